/**
 * Running many seeds, and what a failure tells a person: the seed, the broken invariant, the last
 * events, and the exact command that replays it. Shared by the command line (cli.ts) and the tests.
 */
import { assert } from '../../src/util/assert.js';
import type { BugName } from './bugs.js';
import { type InvariantFactory, invariantRegistry } from './invariants.js';
import type { RaftSettings } from './node-host.js';
import type { ProfileOverrides } from './profile.js';
import { runSimulation, type SimulationFailure, type SimulationStats } from './simulator.js';

/** A node count, or 'mixed': 3 nodes for even seeds and 5 for odd ones. */
export type NodeChoice = 3 | 5 | 'mixed';

export interface SeedRunOptions extends RunSettings {
  readonly from: number;
  readonly count: number;
  /** Runs seeds from, from + stride, …: a worker of `stride` workers takes every stride-th seed. */
  readonly stride?: number;
  readonly nodes: NodeChoice;
  readonly traceSize?: number;
  /** Stop at the first failing seed (the default) or run them all. */
  readonly keepGoing?: boolean;
}

export interface SeedFailure {
  readonly seed: number;
  readonly nodes: number;
  readonly failure: SimulationFailure;
}

/** Sums over the seeds run, to tell a busy run from a vacuous one. */
export interface SeedTotals {
  seeds: number;
  events: number;
  leaderTerms: number;
  committed: number;
  acknowledged: number;
  readsAnswered: number;
  crashes: number;
  snapshotsInstalled: number;
  faults: Record<string, number>;
  /** The highest share of its liveness bound a seed used, in percent, and that seed. */
  quietBoundUsedPercentMax: number;
  quietBoundUsedMostBySeed: number;
}

export function emptyTotals(): SeedTotals {
  return {
    seeds: 0,
    events: 0,
    leaderTerms: 0,
    committed: 0,
    acknowledged: 0,
    readsAnswered: 0,
    crashes: 0,
    snapshotsInstalled: 0,
    faults: {},
    quietBoundUsedPercentMax: 0,
    quietBoundUsedMostBySeed: 0,
  };
}

export function nodesFor(choice: NodeChoice, seed: number): number {
  return choice === 'mixed' ? (seed % 2 === 0 ? 3 : 5) : choice;
}

/** Runs the seeds; `onSeed` hears of each one as it ends (with its failure, if it failed). */
export function runSeeds(
  options: SeedRunOptions,
  onSeed?: (totals: SeedTotals, failure: SeedFailure | undefined) => void,
): { totals: SeedTotals; failures: SeedFailure[] } {
  const stride = options.stride ?? 1;
  assert(Number.isInteger(stride) && stride >= 1, 'stride must be a positive integer');
  const totals = emptyTotals();
  const failures: SeedFailure[] = [];
  for (let seed = options.from; seed < options.from + options.count; seed += stride) {
    const nodes = nodesFor(options.nodes, seed);
    const result = runSimulation({
      seed,
      nodes,
      faultTicks: options.faultTicks,
      ...(options.bugs === undefined ? {} : { bugs: options.bugs }),
      faults: options.faults,
      raft: options.raft,
      profile: options.profile,
      invariants: invariantsWithout(options.without),
      ...(options.traceSize === undefined ? {} : { traceSize: options.traceSize }),
    });
    addStats(totals, result.stats, seed);
    const failure = result.ok ? undefined : { seed, nodes, failure: result.failure };
    onSeed?.(totals, failure);
    if (failure !== undefined) {
      failures.push(failure);
      if (options.keepGoing !== true) break;
    }
  }
  return { totals, failures };
}

export function addStats(totals: SeedTotals, stats: SimulationStats, seed: number): void {
  totals.seeds++;
  totals.events += stats.events;
  totals.leaderTerms += stats.leaderTerms;
  totals.committed += stats.committed;
  totals.acknowledged += stats.clients.acknowledged;
  totals.readsAnswered += stats.clients.readsAnswered;
  totals.crashes += stats.crashes;
  totals.snapshotsInstalled += stats.snapshotsInstalled;
  for (const [name, count] of Object.entries(stats.faults)) {
    totals.faults[name] = (totals.faults[name] ?? 0) + count;
  }
  if (stats.quietBoundTicks > 0) {
    const percent = Math.ceil((100 * stats.quietTicks) / stats.quietBoundTicks);
    if (percent > totals.quietBoundUsedPercentMax) {
      totals.quietBoundUsedPercentMax = percent;
      totals.quietBoundUsedMostBySeed = seed;
    }
  }
}

export function mergeTotals(into: SeedTotals, from: SeedTotals): void {
  into.seeds += from.seeds;
  into.events += from.events;
  into.leaderTerms += from.leaderTerms;
  into.committed += from.committed;
  into.acknowledged += from.acknowledged;
  into.readsAnswered += from.readsAnswered;
  into.crashes += from.crashes;
  into.snapshotsInstalled += from.snapshotsInstalled;
  for (const [name, count] of Object.entries(from.faults)) {
    into.faults[name] = (into.faults[name] ?? 0) + count;
  }
  if (from.quietBoundUsedPercentMax > into.quietBoundUsedPercentMax) {
    into.quietBoundUsedPercentMax = from.quietBoundUsedPercentMax;
    into.quietBoundUsedMostBySeed = from.quietBoundUsedMostBySeed;
  }
}

/** What, besides the seed and the node count, decides a run: all a replay needs. */
export interface RunSettings {
  readonly faultTicks: number;
  readonly bugs?: readonly BugName[] | undefined;
  readonly faults?: readonly string[] | undefined;
  readonly raft?: Partial<RaftSettings> | undefined;
  readonly profile?: ProfileOverrides | undefined;
  /** Invariants (by name) not checked. */
  readonly without?: readonly string[] | undefined;
}

/** The registry without the invariants named. */
export function invariantsWithout(names: readonly string[] = []): InvariantFactory[] {
  return invariantRegistry.filter((factory) => !names.includes(factory().name));
}

/** The command that replays one seed exactly. */
export function replayCommand(seed: number, nodes: number, settings: RunSettings): string {
  const bugs = (settings.bugs ?? []).map((bug) => ` --bug ${bug}`).join('');
  const faults = settings.faults === undefined ? '' : ` --faults ${settings.faults.join(',')}`;
  const raft = pairsFlag('--raft', settings.raft);
  const profile = pairsFlag('--profile', settings.profile);
  const without = (settings.without ?? []).map((name) => ` --without '${name}'`).join('');
  return `npm run sim -- --seeds 1 --from ${seed} --nodes ${nodes} --ticks ${settings.faultTicks}${bugs}${faults}${raft}${profile}${without}`;
}

function pairsFlag(flag: string, pairs: object | undefined): string {
  const entries = Object.entries(pairs ?? {}).map(([key, value]) => `${key}=${value}`);
  return entries.length === 0 ? '' : ` ${flag} ${entries.join(',')}`;
}

export function formatFailure(
  { seed, nodes, failure }: SeedFailure,
  settings: RunSettings,
): string {
  return [
    `FAILED seed ${seed} (${nodes} nodes, ${settings.faultTicks} fault ticks): ${failure.invariant}`,
    `  ${failure.message}`,
    `  at ${(failure.timeUs / 1000).toFixed(3)} ms of virtual time; the last events:`,
    ...failure.trace.map((line) => `    ${line}`),
    `replay: ${replayCommand(seed, nodes, settings)}`,
  ].join('\n');
}
