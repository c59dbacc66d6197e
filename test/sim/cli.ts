/**
 * The simulator's command line:
 *   npm run sim -- --seeds N [--from S] [--nodes 3|5|mixed] [--ticks T] [--jobs J]
 *                  [--bug NAME]... [--faults KIND,KIND…] [--trace LINES] [--keep-going] [--list]
 * Runs N seeds from S (default 1) and prints seeds per second; a failing seed prints the broken
 * invariant, the last events and the command that replays it, and the exit code is 1.
 * With --jobs J the seeds are shared among J child processes (every J-th seed to each): worker
 * threads cannot load TypeScript through tsx on Node 20, child processes can.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type BugName, bugCatalogue, isBugName } from './bugs.js';
import { faultRegistry } from './faults.js';
import { invariantRegistry } from './invariants.js';
import {
  emptyTotals,
  formatFailure,
  mergeTotals,
  type NodeChoice,
  runSeeds,
  type SeedFailure,
  type SeedRunOptions,
  type SeedTotals,
} from './seeds.js';

interface CliOptions extends SeedRunOptions {
  readonly jobs: number;
  readonly bugs: readonly BugName[];
}

type WorkerReport =
  | { readonly kind: 'progress'; readonly seeds: number }
  | { readonly kind: 'done'; readonly totals: SeedTotals; readonly failures: SeedFailure[] };

const usage = `usage: npm run sim -- --seeds N [--from S] [--nodes 3|5|mixed] [--ticks T] [--jobs J]
                      [--bug NAME]... [--faults KIND,KIND…] [--trace LINES] [--keep-going] [--list]`;

/** Workers report progress every this many seeds. */
const progressEverySeeds = 100;

const valueFlags = [
  '--seeds',
  '--from',
  '--nodes',
  '--ticks',
  '--jobs',
  '--bug',
  '--faults',
  '--trace',
];
const switchFlags = ['--keep-going', '--list'];

/** Splits the arguments into flags with values (a flag may repeat) and switches. */
function readFlags(argv: readonly string[]): {
  values: Map<string, string[]>;
  switches: Set<string>;
} {
  const values = new Map<string, string[]>();
  const switches = new Set<string>();
  for (let position = 0; position < argv.length; position++) {
    const argument = argv[position] ?? '';
    if (switchFlags.includes(argument)) {
      switches.add(argument);
      continue;
    }
    const value = argv[position + 1];
    if (!valueFlags.includes(argument) || value === undefined) {
      throw new Error(`bad argument ${argument}\n${usage}`);
    }
    values.set(argument, [...(values.get(argument) ?? []), value]);
    position++;
  }
  return { values, switches };
}

function parseArguments(argv: readonly string[]): CliOptions | 'list' {
  const { values, switches } = readFlags(argv);
  if (switches.has('--list')) return 'list';
  const bugs = values.get('--bug') ?? [];
  for (const bug of bugs) if (!isBugName(bug)) throw new Error(`unknown bug ${bug} (see --list)`);
  const faults = values.get('--faults')?.at(-1)?.split(',');
  for (const fault of faults ?? []) {
    if (!faultRegistry.some((kind) => kind.name === fault)) {
      throw new Error(`unknown fault ${fault} (see --list)`);
    }
  }
  return {
    count: integer(values, '--seeds', 100, 1),
    from: integer(values, '--from', 1, 0),
    nodes: nodeChoice(values.get('--nodes')?.at(-1) ?? '3'),
    faultTicks: integer(values, '--ticks', 300, 0),
    jobs: integer(values, '--jobs', 1, 1),
    traceSize: integer(values, '--trace', 40, 1),
    bugs: bugs.filter(isBugName),
    faults,
    keepGoing: switches.has('--keep-going'),
  };
}

function integer(
  values: Map<string, string[]>,
  name: string,
  fallback: number,
  min: number,
): number {
  const text = values.get(name)?.at(-1);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min)
    throw new Error(`${name} needs an integer >= ${min}`);
  return value;
}

function nodeChoice(text: string): NodeChoice {
  if (text === '3') return 3;
  if (text === '5') return 5;
  if (text === 'mixed') return 'mixed';
  throw new Error('--nodes is 3, 5 or mixed');
}

function printList(): void {
  console.log('invariants:', invariantRegistry.map((factory) => factory().name).join(', '));
  console.log('faults:', faultRegistry.map((fault) => fault.name).join(', '));
  console.log('bugs (--bug):');
  for (const [name, description] of Object.entries(bugCatalogue))
    console.log(`  ${name}: ${description}`);
}

async function main(): Promise<number> {
  const parsed = parseArguments(process.argv.slice(2));
  if (parsed === 'list') {
    printList();
    return 0;
  }
  const options = parsed;
  const startedMs = performance.now();
  const { totals, failures } =
    options.jobs === 1
      ? runSeeds(options, progressPrinter(options, startedMs))
      : await runInWorkers(options, startedMs);
  const seconds = (performance.now() - startedMs) / 1000;
  for (const failure of failures) console.log(formatFailure(failure, options));
  console.log(summary(options, totals, failures.length, seconds));
  return failures.length === 0 ? 0 : 1;
}

function progressPrinter(options: CliOptions, startedMs: number): (totals: SeedTotals) => void {
  let lastPrintMs = startedMs;
  return (totals) => {
    const nowMs = performance.now();
    if (nowMs - lastPrintMs < 5_000) return;
    lastPrintMs = nowMs;
    const rate = totals.seeds / ((nowMs - startedMs) / 1000);
    process.stderr.write(`  ${totals.seeds}/${options.count} seeds, ${rate.toFixed(1)} seeds/s\n`);
  };
}

async function runInWorkers(
  options: CliOptions,
  startedMs: number,
): Promise<{ totals: SeedTotals; failures: SeedFailure[] }> {
  const totals = emptyTotals();
  const failures: SeedFailure[] = [];
  const progress = progressPrinter(options, startedMs);
  const seedsByWorker = new Array<number>(options.jobs).fill(0);
  const workers = Array.from({ length: options.jobs }, (_, offset) => {
    const share: SeedRunOptions = {
      ...options,
      from: options.from + offset,
      count: options.count - offset,
      stride: options.jobs,
    };
    const child = fork(fileURLToPath(import.meta.url), [workerFlag, JSON.stringify(share)], {
      execArgv: ['--import', 'tsx'],
    });
    return new Promise<void>((resolve, reject) => {
      child.on('message', (report: WorkerReport) => {
        if (report.kind === 'progress') {
          seedsByWorker[offset] = report.seeds;
          progress({
            ...emptyTotals(),
            seeds: seedsByWorker.reduce((sum, seeds) => sum + seeds, 0),
          });
          return;
        }
        mergeTotals(totals, report.totals);
        failures.push(...report.failures);
      });
      child.on('error', reject);
      child.on('exit', (code) => {
        if (code === 0) resolve();
        else reject(new Error(`worker ${offset} exited with code ${code}`));
      });
    });
  });
  await Promise.all(workers);
  failures.sort((a, b) => a.seed - b.seed);
  return { totals, failures };
}

/** In a child process: runs its share of the seeds and reports to the parent. */
function runAsWorker(share: SeedRunOptions): void {
  const send = (report: WorkerReport): void => {
    process.send?.(report);
  };
  const result = runSeeds(share, (totals) => {
    if (totals.seeds % progressEverySeeds === 0) send({ kind: 'progress', seeds: totals.seeds });
  });
  send({ kind: 'done', ...result });
  process.disconnect?.();
}

function summary(options: CliOptions, totals: SeedTotals, failed: number, seconds: number): string {
  const nodes = options.nodes === 'mixed' ? '3 and 5' : String(options.nodes);
  const faults = Object.entries(totals.faults)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, count]) => `${name} ${count}`)
    .join(', ');
  return [
    `${totals.seeds} seeds (${nodes} nodes, ${options.faultTicks} fault ticks${options.bugs.length > 0 ? `, bugs: ${options.bugs.join(' ')}` : ''}) in ${seconds.toFixed(1)} s: ${(totals.seeds / seconds).toFixed(1)} seeds/s, ${failed} failed`,
    `  ${totals.events} events, ${totals.leaderTerms} leader terms, ${totals.committed} entries committed, ${totals.acknowledged} proposals acknowledged, ${totals.readsAnswered} reads answered, ${totals.crashes} crashes, ${totals.snapshotsInstalled} snapshots installed`,
    `  faults: ${faults}`,
    totals.quietBoundUsedPercentMax === 0
      ? '  liveness: no seed reached its quiet phase'
      : `  liveness: the slowest seed (${totals.quietBoundUsedMostBySeed}) used ${totals.quietBoundUsedPercentMax}% of its bound`,
  ].join('\n');
}

const workerFlag = '--worker-share';

if (process.argv[2] === workerFlag) {
  runAsWorker(JSON.parse(process.argv[3] ?? '{}') as SeedRunOptions);
} else {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 2;
    },
  );
}
