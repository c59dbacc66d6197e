/**
 * The comparison's table: one row per (target, load, concurrency), printed as each run ends, and
 * again as Markdown at the end with --markdown. Ratios compare runs of the same invocation only:
 * lockd against the bare ceiling, and lockd against each peer of the same shape (1 node against
 * 1 node, 3 nodes spread against 3 nodes spread, lockd 1 node against Redis and the floors).
 */
import type { LoadKind, RunResult } from './load.js';
import type { Placement, SystemName } from './targets/target.js';

export interface Row {
  readonly label: string;
  readonly system: SystemName;
  readonly nodes: number;
  readonly placement: Placement;
  readonly load: LoadKind;
  readonly concurrency: number;
  readonly result: RunResult;
}

interface Column {
  readonly title: string;
  readonly width: number;
  readonly alignLeft: boolean;
}

const columns: readonly Column[] = [
  { title: 'target', width: 36, alignLeft: true },
  { title: 'load', width: 11, alignLeft: true },
  { title: 'conc', width: 4, alignLeft: false },
  { title: 'pairs/s', width: 8, alignLeft: false },
  { title: 'p50 ms', width: 8, alignLeft: false },
  { title: 'p99 ms', width: 8, alignLeft: false },
  { title: 'errors', width: 6, alignLeft: false },
  { title: 'retries/pair', width: 12, alignLeft: false },
  { title: 'gen CPU', width: 7, alignLeft: false },
  { title: 'server CPU µs/pair', width: 18, alignLeft: false },
  { title: 'vs ceiling', width: 10, alignLeft: false },
  { title: 'lockd ÷ this', width: 12, alignLeft: false },
];

function sameCell(a: Row, b: Row): boolean {
  return a.load === b.load && a.concurrency === b.concurrency;
}

/** The lockd row this row's peer ratio is taken against, if that run happened. */
function lockdCounterpart(row: Row, rows: readonly Row[]): Row | undefined {
  if (row.system === 'lockd' || row.system === 'bare') return undefined;
  const nodes = row.system === 'redis' ? 1 : row.nodes;
  const placement = row.system === 'redis' ? 'single' : row.placement;
  return rows.find(
    (other) =>
      other.system === 'lockd' &&
      sameCell(other, row) &&
      other.nodes === nodes &&
      other.placement === placement,
  );
}

function ceilingPercent(row: Row, rows: readonly Row[]): string {
  if (row.system !== 'lockd') return '';
  const ceiling = rows.find((other) => other.system === 'bare' && sameCell(other, row));
  if (ceiling === undefined || ceiling.result.pairsPerSecond === 0) return '';
  return `${((row.result.pairsPerSecond / ceiling.result.pairsPerSecond) * 100).toFixed(0)}%`;
}

/** lockd's pairs/s over this row's, in the same run, or undefined when there is no counterpart. */
function peerRatioValue(row: Row, rows: readonly Row[]): number | undefined {
  const lockd = lockdCounterpart(row, rows);
  if (lockd === undefined || row.result.pairsPerSecond === 0) return undefined;
  return lockd.result.pairsPerSecond / row.result.pairsPerSecond;
}

function peerRatio(row: Row, rows: readonly Row[]): string {
  const ratio = peerRatioValue(row, rows);
  return ratio === undefined ? '' : `${ratio.toFixed(2)}×`;
}

function cells(row: Row, rows: readonly Row[]): string[] {
  const { result } = row;
  return [
    row.label,
    row.load,
    String(row.concurrency),
    result.pairsPerSecond.toFixed(0),
    result.p50Ms.toFixed(2),
    result.p99Ms.toFixed(2),
    String(result.errors),
    result.retriesPerPair === 0 ? '' : result.retriesPerPair.toFixed(2),
    `${result.generatorCpuPercent.toFixed(0)}%`,
    result.serverCpuMicrosecondsPerPair === undefined
      ? ''
      : result.serverCpuMicrosecondsPerPair.toFixed(0),
    ceilingPercent(row, rows),
    peerRatio(row, rows),
  ];
}

function padded(values: readonly string[]): string {
  return values
    .map((value, index) => {
      const column = columns[index];
      if (column === undefined) return value;
      return column.alignLeft ? value.padEnd(column.width) : value.padStart(column.width);
    })
    .join(' ');
}

export class Report {
  readonly rows: Row[] = [];
  private readonly notes: string[] = [];

  printHeader(): void {
    console.log(padded(columns.map((column) => column.title)));
  }

  /** Records a run and prints its line; its ratios use the runs recorded before it. */
  add(row: Row): void {
    this.rows.push(row);
    console.log(padded(cells(row, this.rows)));
    if (row.result.firstError !== undefined)
      console.log(`  first error of ${row.result.errors}: ${row.result.firstError}`);
  }

  note(text: string): void {
    this.notes.push(text);
    console.log(`  ${text}`);
  }

  markdown(): string {
    const separator = columns.map((column) => (column.alignLeft ? '---' : '---:'));
    const lines = [
      `| ${columns.map((column) => column.title).join(' | ')} |`,
      `|${separator.join('|')}|`,
      ...this.rows.map((row) => `| ${cells(row, this.rows).join(' | ')} |`),
    ];
    if (this.notes.length > 0) lines.push('', ...this.notes.map((note) => `- ${note}`));
    return lines.join('\n');
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? 0;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] ?? 0) + upper) / 2;
}

function rowKey(row: Row): string {
  return `${row.label}\u0000${row.load}\u0000${row.concurrency}`;
}

/**
 * Several rounds of the same sweep, as a Markdown table: for each row, the median pairs/s and
 * its range, and the median of the ratios each round gave (each ratio still compares runs of the
 * same round), with every round's ratio listed. One 3 s run on a small shared machine can be a
 * third off; a median of interleaved rounds is what a claim near a target should rest on.
 */
export function roundsSummary(reports: readonly Report[]): string {
  const groups = new Map<string, { first: Row; pairs: number[]; ratios: number[] }>();
  for (const report of reports) {
    for (const row of report.rows) {
      const key = rowKey(row);
      const group = groups.get(key) ?? { first: row, pairs: [], ratios: [] };
      group.pairs.push(row.result.pairsPerSecond);
      const ratio = peerRatioValue(row, report.rows);
      if (ratio !== undefined) group.ratios.push(ratio);
      groups.set(key, group);
    }
  }
  const lines = [
    `| target | load | conc | pairs/s, median of ${reports.length} (min–max) | lockd ÷ this, median (each round) |`,
    '|---|---|---:|---:|---:|',
  ];
  for (const { first, pairs, ratios } of groups.values()) {
    const range = `${Math.min(...pairs).toFixed(0)}–${Math.max(...pairs).toFixed(0)}`;
    const ratioText =
      ratios.length === 0
        ? ''
        : `${median(ratios).toFixed(2)}× (${ratios.map((ratio) => ratio.toFixed(2)).join(', ')})`;
    lines.push(
      `| ${first.label} | ${first.load} | ${first.concurrency} | ${median(pairs).toFixed(0)} (${range}) | ${ratioText} |`,
    );
  }
  return lines.join('\n');
}
