/**
 * The simulator's command line:
 *   npm run sim -- --seeds N [--from S] [--nodes 3|5|mixed] [--ticks T] [--jobs J]
 *                  [--bug NAME]... [--faults KIND,…] [--raft NAME=VALUE,…]
 *                  [--profile NAME=VALUE,…] [--without INVARIANT]... [--trace LINES]
 *                  [--keep-going] [--list]
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
import { tunableProfileKeys } from './profile.js';
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

/** A worker's totals so far, and the failure that made it report, if one did. */
interface WorkerReport {
  readonly totals: SeedTotals;
  readonly failure: SeedFailure | undefined;
}

const usage = `usage: npm run sim -- --seeds N [--from S] [--nodes 3|5|mixed] [--ticks T] [--jobs J]
                      [--bug NAME]... [--faults KIND,…] [--raft NAME=VALUE,…]
                      [--profile NAME=VALUE,…] [--without INVARIANT]... [--trace LINES]
                      [--keep-going] [--list]`;

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
  '--raft',
  '--profile',
  '--without',
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
    raft: pairs(values.get('--raft')?.at(-1), '--raft', raftOptionNames),
    profile: pairs(values.get('--profile')?.at(-1), '--profile', tunableProfileKeys),
    without: invariantNames(values.get('--without')),
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

/**
 * `--raft preVote=false,maxEntriesPerAppend=1` or `--profile faultGapTicksMax=2`: options that
 * override what the seed chose.
 */
function pairs(
  text: string | undefined,
  flag: string,
  names: readonly string[],
): Record<string, number | boolean> | undefined {
  if (text === undefined) return undefined;
  const overrides: Record<string, number | boolean> = {};
  for (const pair of text.split(',')) {
    const [key, value] = pair.split('=');
    if (key === undefined || value === undefined || !names.includes(key)) {
      throw new Error(`${flag} takes name=value pairs of ${names.join(', ')}`);
    }
    const number = Number(value);
    if (value !== 'true' && value !== 'false' && !Number.isFinite(number)) {
      throw new Error(`${flag} ${key}: ${value} is not a number or a boolean`);
    }
    overrides[key] = value === 'true' ? true : value === 'false' ? false : number;
  }
  return overrides;
}

const raftOptionNames = [
  'electionTicks',
  'heartbeatTicks',
  'preVote',
  'checkQuorum',
  'maxEntriesPerAppend',
  'maxInflightAppends',
  'maxCommittedEntriesPerReady',
  'maxPendingProposals',
  'maxPendingReads',
  'maxSnapshotChunkBytes',
  'maxSnapshotChunksInFlight',
];

function invariantNames(names: readonly string[] | undefined): string[] | undefined {
  const known = invariantRegistry.map((factory) => factory().name);
  for (const name of names ?? []) {
    if (!known.includes(name)) throw new Error(`unknown invariant ${name} (see --list)`);
  }
  return names === undefined ? undefined : [...names];
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

/**
 * What the run has done so far: totals per worker (one for a single process) and the failures,
 * printed as they come, so that an interrupted run still says what it found.
 */
class RunProgress {
  readonly #options: CliOptions;
  readonly #startedMs = performance.now();
  readonly #totalsByWorker: SeedTotals[];
  #failed = 0;
  #lastPrintMs = this.#startedMs;

  constructor(options: CliOptions) {
    this.#options = options;
    this.#totalsByWorker = Array.from({ length: options.jobs }, () => emptyTotals());
  }

  get failed(): number {
    return this.#failed;
  }

  update(worker: number, totals: SeedTotals): void {
    this.#totalsByWorker[worker] = totals;
    const nowMs = performance.now();
    if (nowMs - this.#lastPrintMs < 5_000) return;
    this.#lastPrintMs = nowMs;
    const seeds = this.#totals().seeds;
    const rate = seeds / ((nowMs - this.#startedMs) / 1000);
    process.stderr.write(`  ${seeds}/${this.#options.count} seeds, ${rate.toFixed(1)} seeds/s\n`);
  }

  fail(failure: SeedFailure): void {
    this.#failed++;
    console.log(formatFailure(failure, this.#options));
  }

  summary(interrupted: boolean): string {
    const seconds = (performance.now() - this.#startedMs) / 1000;
    const text = summary(this.#options, this.#totals(), this.#failed, seconds);
    return interrupted ? `interrupted: ${text}` : text;
  }

  #totals(): SeedTotals {
    const totals = emptyTotals();
    for (const worker of this.#totalsByWorker) mergeTotals(totals, worker);
    return totals;
  }
}

async function main(): Promise<number> {
  const parsed = parseArguments(process.argv.slice(2));
  if (parsed === 'list') {
    printList();
    return 0;
  }
  const options = parsed;
  const progress = new RunProgress(options);
  const interrupt = (): void => {
    console.log(progress.summary(true));
    process.exit(130);
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  if (options.jobs === 1) {
    runSeeds(options, (totals, failure) => {
      progress.update(0, totals);
      if (failure !== undefined) progress.fail(failure);
    });
  } else {
    await runInWorkers(options, progress);
  }
  console.log(progress.summary(false));
  return progress.failed === 0 ? 0 : 1;
}

/** Shares the seeds among child processes; without --keep-going, stops them all at a failure. */
async function runInWorkers(options: CliOptions, progress: RunProgress): Promise<void> {
  const children = Array.from({ length: options.jobs }, (_, offset) => {
    const share: SeedRunOptions = {
      ...options,
      from: options.from + offset,
      count: options.count - offset,
      stride: options.jobs,
    };
    return fork(fileURLToPath(import.meta.url), [workerFlag, JSON.stringify(share)], {
      execArgv: ['--import', 'tsx'],
    });
  });
  const finished = children.map(
    (child, offset) =>
      new Promise<void>((resolve, reject) => {
        child.on('message', (report: WorkerReport) => {
          progress.update(offset, report.totals);
          if (report.failure === undefined) return;
          progress.fail(report.failure);
          if (options.keepGoing !== true) for (const other of children) other.kill();
        });
        child.on('error', reject);
        child.on('exit', (code, signal) => {
          if (code === 0 || signal === 'SIGTERM') resolve();
          else reject(new Error(`worker ${offset} exited with code ${code}`));
        });
      }),
  );
  await Promise.all(finished);
}

/** In a child process: runs its share of the seeds and reports to the parent. */
function runAsWorker(share: SeedRunOptions): void {
  const send = (report: WorkerReport): void => {
    process.send?.(report);
  };
  const { totals } = runSeeds(share, (totalsSoFar, failure) => {
    if (failure !== undefined || totalsSoFar.seeds % progressEverySeeds === 0) {
      send({ totals: totalsSoFar, failure });
    }
  });
  send({ totals, failure: undefined });
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
