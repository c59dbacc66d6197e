/**
 * The readable slice of a lock's history that a violation prints: one operation per line over the
 * time window the involved operations span, with the nemesis events inside that window.
 */
import type { FaultEvent, Operation, Outcome } from './history.js';

/** Beyond this many operations an excerpt keeps the involved ones and those nearest to them. */
export const excerptOperationsMax = 40;

function describeOutcome(outcome: Outcome): string {
  switch (outcome.type) {
    case 'ok': {
      const holder = outcome.holder === undefined ? '' : ` holder=${outcome.holder}`;
      const token = outcome.token === undefined ? '' : ` token=${outcome.token}`;
      return `ok${holder}${token}`;
    }
    case 'fail':
      return `fail ${outcome.status} ${outcome.code}`;
    case 'unknown':
      return `unknown (${outcome.reason})`;
  }
}

export function formatOperation(operation: Operation): string {
  const owner = operation.owner === undefined ? '' : ` owner=${operation.owner}`;
  const ttl = operation.ttlMs === undefined ? '' : ` ttl=${operation.ttlMs}ms`;
  const wait = operation.waitMs === undefined ? '' : ` wait=${operation.waitMs}ms`;
  // A lost answer's effect may come later than the moment the runner gave up.
  const returned =
    operation.outcome.type === 'unknown' ? `${operation.returnMs}?` : operation.returnMs;
  return (
    `#${operation.id} client ${operation.client} node ${operation.node} ${operation.kind}` +
    `${owner}${ttl}${wait} ${operation.callMs}→${returned} ms ${describeOutcome(operation.outcome)}`
  );
}

interface TimeWindow {
  readonly startMs: number;
  readonly endMs: number;
}

function windowOf(involved: readonly Operation[]): TimeWindow {
  const startMs = Math.min(...involved.map((operation) => operation.callMs));
  const endMs = Math.max(...involved.map((operation) => operation.returnMs));
  return { startMs, endMs };
}

/** How far an operation lies from the nearest involved one, to choose what to keep. */
function distanceMs(operation: Operation, involved: readonly Operation[]): number {
  return Math.min(...involved.map((other) => Math.abs(other.callMs - operation.callMs)));
}

function chooseOperations(
  lockOperations: readonly Operation[],
  involved: readonly Operation[],
  window: TimeWindow,
): { readonly shown: Operation[]; readonly omitted: number } {
  const involvedIds = new Set(involved.map((operation) => operation.id));
  const others = lockOperations.filter(
    (operation) =>
      !involvedIds.has(operation.id) &&
      operation.callMs <= window.endMs &&
      operation.returnMs >= window.startMs,
  );
  const room = Math.max(0, excerptOperationsMax - involved.length);
  const kept =
    others.length <= room
      ? others
      : [...others]
          .sort((left, right) => distanceMs(left, involved) - distanceMs(right, involved))
          .slice(0, room);
  const shown = [...involved, ...kept].sort(
    (left, right) => left.callMs - right.callMs || left.id - right.id,
  );
  return { shown, omitted: others.length - kept.length };
}

/**
 * The excerpt: the lock's operations overlapping the window of the involved ones (each involved
 * one marked `>`), and the nemesis events in that window, in time order.
 */
export function renderExcerpt(
  lockOperations: readonly Operation[],
  faults: readonly FaultEvent[],
  involved: readonly Operation[],
): string {
  if (involved.length === 0) return '  (no operations)';
  const window = windowOf(involved);
  const involvedIds = new Set(involved.map((operation) => operation.id));
  const { shown, omitted } = chooseOperations(lockOperations, involved, window);
  const lines: { readonly atMs: number; readonly order: number; readonly text: string }[] = [];
  for (const operation of shown) {
    const marker = involvedIds.has(operation.id) ? '>' : ' ';
    lines.push({
      atMs: operation.callMs,
      order: 1,
      text: `${marker} ${formatOperation(operation)}`,
    });
  }
  for (const fault of faults) {
    if (fault.atMs < window.startMs || fault.atMs > window.endMs) continue;
    lines.push({
      atMs: fault.atMs,
      order: 0,
      text: `  ~ ${fault.atMs} ms nemesis ${fault.kind}: ${fault.description}`,
    });
  }
  lines.sort((left, right) => left.atMs - right.atMs || left.order - right.order);
  const omittedLine = omitted > 0 ? [`  … ${omitted} more operations in this window omitted`] : [];
  return [...lines.map((line) => line.text), ...omittedLine].join('\n');
}
