/**
 * Jepsen-style fault runs of real lockd processes:
 *   npm run test:faults -- --runs N --seed S (--minutes M | --seconds T) [--nodes 3|5]
 *                          [--clients C] [--locks L] [--save-history DIR]
 * Runs N runs with seeds S, S+1, …; checks each run's history and prints one line per run, then
 * the totals. A violation (or a run that could not finish) prints what went wrong, saves the
 * history as JSON and the command that replays the seed, and the exit code is 1.
 */
import { randomInt } from 'node:crypto';
import { resolve } from 'node:path';
import { type CheckResult, checkHistory, formatViolation } from './checker.js';
import { defaultHistoryDirectory, saveHistory } from './history-file.js';
import { type RunReport, runOnce } from './run.js';
import {
  addCounts,
  countFaults,
  countOutcomes,
  formatCounts,
  formatOutcomes,
  type OutcomeCounts,
} from './summary.js';

const usage = `usage: npm run test:faults -- [--runs N] [--seed S] [--minutes M | --seconds T]
                              [--nodes 3|5] [--clients C] [--locks L] [--save-history DIR]
                              [--verbose true]`;

interface CliOptions {
  readonly runs: number;
  readonly seed: number;
  readonly durationMs: number;
  readonly nodes: 3 | 5;
  readonly clients: number;
  readonly locks: number;
  readonly saveHistoryDirectory: string | undefined;
  /** Progress lines during each run (cluster up, healing, final checks) on stderr. */
  readonly verbose: boolean;
}

const ttlMs = { min: 2_000, max: 5_000 } as const;

function parseArguments(argv: readonly string[]): CliOptions {
  const values = new Map<string, string>();
  for (let index = 0; index < argv.length; index++) {
    const flag = argv[index] ?? '';
    const value = argv[index + 1];
    if (!flag.startsWith('--') || value === undefined) throw new Error(`bad argument ${flag}`);
    values.set(flag.slice(2), value);
    index++;
  }
  const known = [
    'runs',
    'seed',
    'minutes',
    'seconds',
    'nodes',
    'clients',
    'locks',
    'save-history',
    'verbose',
  ];
  for (const name of values.keys())
    if (!known.includes(name)) throw new Error(`unknown flag --${name}`);
  const number = (name: string, fallback: number, min: number, max: number): number => {
    const text = values.get(name);
    if (text === undefined) return fallback;
    const parsed = Number(text);
    if (!Number.isFinite(parsed) || parsed < min || parsed > max)
      throw new Error(`--${name} must be a number from ${min} to ${max}, got ${text}`);
    return parsed;
  };
  const nodes = number('nodes', 3, 3, 5);
  if (nodes !== 3 && nodes !== 5) throw new Error('--nodes must be 3 or 5');
  const seconds = values.has('seconds')
    ? number('seconds', 60, 5, 24 * 3600)
    : number('minutes', 1, 0.1, 24 * 60) * 60;
  const saveHistory = values.get('save-history');
  return {
    runs: Math.floor(number('runs', 1, 1, 100_000)),
    seed: Math.floor(number('seed', randomInt(1, 2 ** 31), 0, Number.MAX_SAFE_INTEGER)),
    durationMs: Math.round(seconds * 1000),
    nodes,
    clients: Math.floor(number('clients', 5, 1, 64)),
    locks: Math.floor(number('locks', 3, 1, 100)),
    saveHistoryDirectory: saveHistory === undefined ? undefined : resolve(saveHistory),
    verbose: values.get('verbose') === 'true',
  };
}

function replayCommand(options: CliOptions, seed: number): string {
  return (
    `npm run test:faults -- --runs 1 --seed ${seed} --seconds ${options.durationMs / 1000} ` +
    `--nodes ${options.nodes} --clients ${options.clients} --locks ${options.locks}`
  );
}

interface Totals {
  runs: number;
  failedRuns: number;
  operations: OutcomeCounts;
  readonly faults: Map<string, number>;
  violations: number;
  inconclusive: number;
}

/** One run: the line, and the details of anything wrong. Returns whether it passed. */
function reportRun(
  options: CliOptions,
  report: RunReport,
  check: CheckResult,
  totals: Totals,
): boolean {
  const { history } = report;
  const outcomes = countOutcomes(history);
  const faults = countFaults(history);
  totals.runs++;
  for (const type of ['ok', 'fail', 'unknown'] as const) totals.operations[type] += outcomes[type];
  addCounts(totals.faults, faults);
  totals.violations += check.violations.length;
  totals.inconclusive += check.inconclusive.length;
  const extra = check.inconclusive.length > 0 ? `, inconclusive ${check.inconclusive.length}` : '';
  process.stdout.write(
    `seed ${history.seed}: ${formatOutcomes(outcomes)}, refused ${report.refusedRequests}; ` +
      `faults: ${formatCounts(faults)}; violations ${check.violations.length}${extra}` +
      `${report.error === undefined ? '' : '; RUN FAILED'}\n`,
  );
  for (const inconclusive of check.inconclusive)
    process.stdout.write(`  inconclusive: lock ${inconclusive.lock}: ${inconclusive.message}\n`);
  for (const note of report.unexpectedAnswers.slice(0, 10))
    process.stdout.write(`  unexpected answer: ${note}\n`);
  const failed = check.violations.length > 0 || report.error !== undefined;
  if (failed) {
    totals.failedRuns++;
    for (const violation of check.violations)
      process.stdout.write(`\n${formatViolation(violation)}\n`);
    if (report.error !== undefined)
      process.stdout.write(`\nthe run could not finish: ${report.error}\n${report.nodeOutput}\n`);
  }
  const directory = options.saveHistoryDirectory ?? (failed ? defaultHistoryDirectory : undefined);
  if (directory !== undefined)
    process.stdout.write(`  history: ${saveHistory(history, directory)}\n`);
  if (failed) process.stdout.write(`  replay: ${replayCommand(options, history.seed)}\n`);
  return !failed;
}

async function main(): Promise<void> {
  let options: CliOptions;
  try {
    options = parseArguments(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${usage}\n`);
    process.exit(2);
  }
  const controller = new AbortController();
  process.once('SIGINT', () => {
    process.stderr.write('interrupted: healing and stopping the current run\n');
    controller.abort();
  });
  process.stdout.write(
    `fault runs: ${options.runs} from seed ${options.seed}, ${options.durationMs / 1000} s each, ` +
      `${options.nodes} nodes, ${options.clients} clients, ${options.locks} locks\n`,
  );
  const totals: Totals = {
    runs: 0,
    failedRuns: 0,
    operations: { ok: 0, fail: 0, unknown: 0 },
    faults: new Map(),
    violations: 0,
    inconclusive: 0,
  };
  for (let run = 0; run < options.runs && !controller.signal.aborted; run++) {
    const seed = options.seed + run;
    const report = await runOnce({
      seed,
      nodes: options.nodes,
      clients: options.clients,
      locks: options.locks,
      durationMs: options.durationMs,
      ttlMs,
      signal: controller.signal,
      ...(options.verbose
        ? { onProgress: (line: string) => process.stderr.write(`  seed ${seed}: ${line}\n`) }
        : {}),
    });
    reportRun(options, report, checkHistory(report.history), totals);
  }
  process.stdout.write(
    `\ntotals: ${totals.runs} runs (${totals.failedRuns} failed), ` +
      `${formatOutcomes(totals.operations)} checked; faults: ${formatCounts(totals.faults)}; ` +
      `violations ${totals.violations}${totals.inconclusive > 0 ? `, inconclusive ${totals.inconclusive}` : ''}\n`,
  );
  process.exitCode = totals.failedRuns > 0 ? 1 : 0;
}

await main();
