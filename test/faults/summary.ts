/** Counts over a history, for the command's report lines and the test's assertions. */
import type { History, OperationKind } from './history.js';
import { isFaultKind } from './nemesis.js';

export interface OutcomeCounts {
  ok: number;
  fail: number;
  unknown: number;
}

export function countOutcomes(history: History, kind?: OperationKind): OutcomeCounts {
  const counts: OutcomeCounts = { ok: 0, fail: 0, unknown: 0 };
  for (const operation of history.operations) {
    if (kind === undefined || operation.kind === kind) counts[operation.outcome.type]++;
  }
  return counts;
}

/** Faults begun, by kind (restarts, resumes and heals are not faults). */
export function countFaults(history: History): Map<string, number> {
  const counts = new Map<string, number>();
  for (const event of history.faults) {
    if (isFaultKind(event.kind)) counts.set(event.kind, (counts.get(event.kind) ?? 0) + 1);
  }
  return counts;
}

export function addCounts(total: Map<string, number>, more: ReadonlyMap<string, number>): void {
  for (const [kind, count] of more) total.set(kind, (total.get(kind) ?? 0) + count);
}

export function formatCounts(counts: ReadonlyMap<string, number>): string {
  if (counts.size === 0) return 'none';
  return [...counts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, count]) => `${kind} ${count}`)
    .join(', ');
}

export function formatOutcomes(counts: OutcomeCounts): string {
  const total = counts.ok + counts.fail + counts.unknown;
  return `${total} ops (${counts.ok} ok / ${counts.fail} fail / ${counts.unknown} unknown)`;
}
