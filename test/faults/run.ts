/**
 * One fault run: start a cluster of real lockd processes behind fault proxies, run the workload
 * and the nemesis for the given time, heal everything (links, paused and dead nodes), wait for a
 * leader, check every lock once more from one node, stop, and return the History. Temp
 * directories and processes are removed whatever happens. A run that cannot finish (a node that
 * will not restart, no leader after healing) returns what it recorded, with the error.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { FaultCluster } from './fault-cluster.js';
import type { FaultEvent, History } from './history.js';
import {
  defaultTiming,
  type FaultTiming,
  faultsFor,
  type MsRange,
  planFaults,
  runNemesis,
} from './nemesis.js';
import {
  finalChecks,
  HistoryRecorder,
  runClient,
  type Targets,
  type WorkloadOptions,
} from './workload.js';

export interface RunOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly clients: number;
  readonly locks: number;
  readonly durationMs: number;
  readonly ttlMs: MsRange;
  /** The nemesis's schedule; defaultTiming(ttlMs.max) if absent. */
  readonly timing?: FaultTiming;
  /** lockd's --request-timeout-ms. */
  readonly requestTimeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Progress lines (cluster up, faults, healing), for a person watching. */
  readonly onProgress?: (line: string) => void;
}

export interface RunReport {
  readonly history: History;
  /** Why the run could not finish; the history holds what it recorded until then. */
  readonly error: string | undefined;
  readonly refusedRequests: number;
  readonly unexpectedAnswers: readonly string[];
  /** The nodes' last log lines, kept when the run failed. */
  readonly nodeOutput: string;
}

const defaultRequestTimeoutMs = 2_000;
const clusterStartTimeoutMs = 30_000;
const healTimeoutMs = 30_000;
const finalChecksTimeoutMs = 30_000;

export async function runOnce(options: RunOptions): Promise<RunReport> {
  const directory = mkdtempSync(join(tmpdir(), 'lockd-faults-'));
  const startedAtUnixMs = Date.now();
  const originMs = performance.now();
  const clock = (): number => Math.round((performance.now() - originMs) * 1000) / 1000;
  const recorder = new HistoryRecorder(clock);
  const faults: FaultEvent[] = [];
  let cluster: FaultCluster | undefined;
  let error: string | undefined;
  let nodeOutput = '';
  try {
    cluster = await FaultCluster.create({
      size: options.nodes,
      directory,
      requestTimeoutMs: options.requestTimeoutMs ?? defaultRequestTimeoutMs,
    });
    await runPhases(cluster, options, { clock, recorder, faults });
  } catch (caught) {
    error = caught instanceof Error ? (caught.stack ?? caught.message) : String(caught);
    nodeOutput = cluster?.recentOutput(40) ?? '';
  } finally {
    await cluster?.stop();
    rmSync(directory, { recursive: true, force: true });
  }
  return {
    history: {
      seed: options.seed,
      nodes: options.nodes,
      operations: recorder.operations(),
      faults,
      startedAtUnixMs,
    },
    error,
    refusedRequests: recorder.refusedRequests,
    unexpectedAnswers: recorder.unexpectedAnswers,
    nodeOutput,
  };
}

interface RunState {
  readonly clock: () => number;
  readonly recorder: HistoryRecorder;
  readonly faults: FaultEvent[];
}

async function runPhases(
  cluster: FaultCluster,
  options: RunOptions,
  state: RunState,
): Promise<void> {
  const progress = options.onProgress ?? (() => {});
  const signal = options.signal ?? new AbortController().signal;
  await cluster.startAll();
  await cluster.waitForLeader(clusterStartTimeoutMs);
  await cluster.waitForLinks(clusterStartTimeoutMs);
  progress(`cluster of ${options.nodes} up; load and faults for ${options.durationMs} ms`);
  const deadlineMs = state.clock() + options.durationMs;
  await loadUnderFaults(cluster, options, state, deadlineMs, signal);
  progress('healing: links pass, paused nodes resume, dead nodes restart');
  await cluster.healAll();
  const leader = await cluster.waitForLeader(healTimeoutMs);
  progress(`leader after healing: node ${leader}; final checks`);
  await finalChecks({
    recorder: state.recorder,
    client: options.clients,
    node: leader,
    port: cluster.clientPort(leader),
    locks: options.locks,
    serverRequestTimeoutMs: options.requestTimeoutMs ?? defaultRequestTimeoutMs,
    deadlineMs: state.clock() + finalChecksTimeoutMs,
  });
}

/** The clients and the nemesis together; clients stop once the time is up and the nemesis is done. */
async function loadUnderFaults(
  cluster: FaultCluster,
  options: RunOptions,
  state: RunState,
  deadlineMs: number,
  signal: AbortSignal,
): Promise<void> {
  const timing = options.timing ?? defaultTiming(options.ttlMs.max);
  const plan = planFaults({
    seed: options.seed,
    nodeIds: cluster.ids,
    timing,
    count: faultsFor(options.durationMs, timing),
  });
  let nemesisDone = false;
  let nemesisFailed = false;
  const nemesis = runNemesis({
    cluster,
    plan,
    clock: state.clock,
    deadlineMs,
    events: state.faults,
    signal,
  });
  nemesis.then(
    () => {
      nemesisDone = true;
    },
    () => {
      nemesisFailed = true;
    },
  );
  const workload: WorkloadOptions = {
    seed: options.seed,
    clients: options.clients,
    locks: options.locks,
    ttlMs: options.ttlMs,
    waitPercent: 25,
    waitMs: { min: 200, max: 2_000 },
    serverRequestTimeoutMs: options.requestTimeoutMs ?? defaultRequestTimeoutMs,
    thinkMsMax: 20,
  };
  const stopping = (): boolean =>
    signal.aborted || nemesisFailed || (nemesisDone && state.clock() >= deadlineMs);
  const clients = Array.from({ length: options.clients }, (_, client) =>
    runClient({
      client,
      options: workload,
      targets: targetsOf(cluster),
      recorder: state.recorder,
      stopping,
    }),
  );
  // Everything settles before a failure is reported, so no client outlives the run.
  const results = await Promise.allSettled([nemesis, ...clients]);
  for (const result of results) if (result.status === 'rejected') throw result.reason;
}

function targetsOf(cluster: FaultCluster): Targets {
  return { nodeIds: cluster.ids, clientPort: (id: number) => cluster.clientPort(id) };
}
