/**
 * The load generator shared by every target: `concurrency` workers, each with its own session
 * (connection, lease, script), run acquire+release pairs until the measured window ends. The
 * latency of a pair is from the acquire being sent to the release being answered.
 *
 * Each run begins with a warm-up of the same load whose pairs are not counted. lockd runs on V8,
 * whose compilers need tens of thousands of calls before the request path is optimised: a fresh
 * 3-node cluster at c=64 makes 3,600 to 4,100 pairs/s in its seconds 3 to 7 and 4,500 to 5,400 from
 * second 9 on, while TurboFan takes a fifth of each node's CPU in the first seconds and 1.5% after
 * 25 s (docs/benchmarks.md). Every run starts fresh processes, so the warm-up (10 s by default)
 * must cover that. etcd and Redis are compiled ahead of time and need none, but get the same:
 * every target is measured in its steady state, which is what a user's long-running service sees.
 * (etcd, which never compacts in its default configuration, then has more history behind it and
 * was a tenth to a fifth slower than in its first seconds; docs/benchmarks.md says so beside its
 * figures.)
 */
import { LatencyHistogram } from './histogram.js';
import { delay } from './processes.js';

/**
 * uncontended: every pair takes a name no one else uses. contended: all workers share a few
 * names, so most acquires find the lock held and must wait (or retry, where there is no queue).
 */
export type LoadKind = 'uncontended' | 'contended';
export const loadKinds: readonly LoadKind[] = ['uncontended', 'contended'];

export type PairOutcome =
  | {
      readonly ok: true /** Acquire attempts beyond the first (Redis's retry loop). */;
      readonly retries: number;
    }
  | { readonly ok: false; readonly error: string };

/** One worker's client of a target: what one application process holding locks would have. */
export interface LockSession {
  /** Acquires `name` (waiting for it when held) and releases it. Never throws for a refusal. */
  acquireAndRelease(name: string): Promise<PairOutcome>;
  close(): Promise<void>;
}

export interface RunResult {
  readonly pairs: number;
  readonly pairsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly firstError: string | undefined;
  readonly retriesPerPair: number;
  /** CPU time of this process over the window / wall time of the window: 100% = one core. */
  readonly generatorCpuPercent: number;
  /** CPU time of the target's server processes over the window per pair; undefined if unknown. */
  readonly serverCpuMicrosecondsPerPair: number | undefined;
}

export interface DriveOptions {
  readonly sessions: readonly LockSession[];
  readonly load: LoadKind;
  readonly seconds: number;
  /** The same load, not measured, before the window (0 for none). */
  readonly warmupSeconds: number;
  /** How many names the workers share under the contended load. */
  readonly sharedNames: number;
  /** Makes this run's names differ from every other run's on the same server. */
  readonly runId: string;
  /** The CPU time the target's servers have used so far, in µs (undefined if unknown). */
  readonly serverCpuMicroseconds?: () => number | undefined;
}

const iterationsMax = 10_000_000;
// After an error a worker pauses, so a dead server does not turn the generator into a busy loop.
const pauseAfterErrorMs = 10;

interface Tally {
  readonly histogram: LatencyHistogram;
  errors: number;
  retries: number;
  firstError: string | undefined;
}

export function lockName(options: DriveOptions, workerIndex: number, iteration: number): string {
  if (options.load === 'contended')
    return `c-${options.runId}-${workerIndex % options.sharedNames}`;
  return `u-${options.runId}-${workerIndex}-${iteration}`;
}

async function runWorker(
  options: DriveOptions,
  workerIndex: number,
  deadline: number,
  tally: Tally,
): Promise<void> {
  const session = options.sessions[workerIndex];
  if (session === undefined) throw new Error(`no session for worker ${workerIndex}`);
  for (let iteration = 0; iteration < iterationsMax && performance.now() < deadline; iteration++) {
    const pairStart = performance.now();
    const outcome = await session
      .acquireAndRelease(lockName(options, workerIndex, iteration))
      .catch((error: unknown): PairOutcome => ({ ok: false, error: (error as Error).message }));
    if (outcome.ok) {
      tally.histogram.record(performance.now() - pairStart);
      tally.retries += outcome.retries;
      continue;
    }
    tally.errors += 1;
    tally.firstError ??= outcome.error;
    await delay(pauseAfterErrorMs);
  }
}

/**
 * Runs the workers for `seconds` and measures. The window ends when the last worker has finished
 * its last pair, so a pair still waiting in a queue at the deadline is counted, with its time.
 */
export async function drive(options: DriveOptions): Promise<RunResult> {
  if (options.sessions.length === 0) throw new Error('drive needs at least one session');
  if (!(options.seconds > 0)) throw new Error(`seconds must be > 0, got ${options.seconds}`);
  const tally: Tally = {
    histogram: new LatencyHistogram(),
    errors: 0,
    retries: 0,
    firstError: undefined,
  };
  if (options.warmupSeconds > 0) {
    const warmup = { ...options, runId: `${options.runId}w` };
    const warmupDeadline = performance.now() + options.warmupSeconds * 1000;
    const discarded: Tally = {
      histogram: new LatencyHistogram(),
      errors: 0,
      retries: 0,
      firstError: undefined,
    };
    await Promise.all(
      options.sessions.map((_, workerIndex) =>
        runWorker(warmup, workerIndex, warmupDeadline, discarded),
      ),
    );
  }
  const serverCpuBefore = options.serverCpuMicroseconds?.();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  await Promise.all(
    options.sessions.map((_, workerIndex) => runWorker(options, workerIndex, deadline, tally)),
  );
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const serverCpuAfter = options.serverCpuMicroseconds?.();
  const pairs = tally.histogram.count;
  const serverCpuMicrosecondsPerPair =
    serverCpuBefore === undefined || serverCpuAfter === undefined || pairs === 0
      ? undefined
      : (serverCpuAfter - serverCpuBefore) / pairs;
  return {
    pairs,
    pairsPerSecond: (pairs / elapsedMs) * 1000,
    p50Ms: tally.histogram.percentileMs(0.5),
    p99Ms: tally.histogram.percentileMs(0.99),
    errors: tally.errors,
    firstError: tally.firstError,
    retriesPerPair: pairs === 0 ? 0 : tally.retries / pairs,
    generatorCpuPercent: ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100,
    serverCpuMicrosecondsPerPair,
  };
}
