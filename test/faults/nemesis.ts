/**
 * The nemesis: a seeded schedule of faults, then its execution against a FaultCluster. One fault
 * at a time, each undone before the next, so at most a minority of nodes is down or paused at
 * once, except the deliberate `kill-all`. The plan is a pure function of the seed; which node is
 * the leader is only known while running, so a leader fault hits whichever node leads then (a
 * replay has the same schedule, but the leader may differ).
 *
 * A slow disk delays every fsync of one node (slow-disk.mjs, loaded into each child): writes stay
 * durable, only later, so the node falls behind and its answers come late.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { assert } from '../../src/util/assert.js';
import type { DirectedLink, FaultCluster } from './fault-cluster.js';
import type { FaultEvent } from './history.js';
import { RandomStream, RunRandom } from './random.js';

export const faultKinds = [
  'kill',
  'kill-leader',
  'kill-all',
  'pause',
  'pause-leader',
  'partition-pair',
  'partition-one-way',
  'partition-halves',
  'partition-leader',
  'partition-bridge',
  'slow-disk',
  'slow-disk-leader',
] as const;
export type FaultKind = (typeof faultKinds)[number];

/** What undoes a fault; recorded as FaultEvents too, but not counted as faults. */
export const recoveryKinds = ['restart', 'resume', 'heal'] as const;

export const faultCategories = ['kill', 'pause', 'partition', 'disk'] as const;
export type FaultCategory = (typeof faultCategories)[number];

export function categoryOf(kind: FaultKind): FaultCategory {
  if (kind.startsWith('kill')) return 'kill';
  if (kind.startsWith('pause')) return 'pause';
  if (kind.startsWith('slow-disk')) return 'disk';
  return 'partition';
}

export function isFaultKind(kind: string): kind is FaultKind {
  return (faultKinds as readonly string[]).includes(kind);
}

export interface MsRange {
  readonly min: number;
  readonly max: number;
}

export interface FaultTiming {
  /** Quiet time before each fault. */
  readonly gapMs: MsRange;
  /** How long a killed node stays down before it restarts. */
  readonly killDownMs: MsRange;
  readonly killAllDownMs: MsRange;
  /** How long a node stays stopped: longer than the longest lease, so leases end meanwhile. */
  readonly pauseMs: MsRange;
  readonly partitionMs: MsRange;
  /** How long a disk stays slow, and how much each of its syncs waits meanwhile. */
  readonly slowDiskMs: MsRange;
  readonly syncDelayMs: MsRange;
}

/** A schedule for leases of up to `ttlMsMax`. */
export function defaultTiming(ttlMsMax: number): FaultTiming {
  return {
    gapMs: { min: 1_000, max: 4_000 },
    killDownMs: { min: 1_000, max: 4_000 },
    killAllDownMs: { min: 500, max: 2_000 },
    pauseMs: { min: ttlMsMax + 1_000, max: ttlMsMax + 3_000 },
    partitionMs: { min: 2_000, max: 8_000 },
    slowDiskMs: { min: 2_000, max: 8_000 },
    syncDelayMs: { min: 20, max: 1_000 },
  };
}

export interface PlannedFault {
  readonly kind: FaultKind;
  readonly gapMs: number;
  readonly durationMs: number;
  /** The nodes in a seeded order: a fault takes its targets from the front. */
  readonly order: readonly number[];
  /** How a partition cuts its links. */
  readonly linkMode: 'blackhole' | 'reset';
  /** partition-one-way: whether the node cannot send (outbound) or cannot receive (inbound). */
  readonly direction: 'outbound' | 'inbound';
  /** slow-disk: the extra wait before each sync. */
  readonly syncDelayMs: number;
}

export interface PlanOptions {
  readonly seed: number;
  readonly nodeIds: readonly number[];
  readonly timing: FaultTiming;
  /** Faults planned; the run stops taking them at its deadline. */
  readonly count: number;
}

const kindsByCategory: Readonly<Record<FaultCategory, readonly FaultKind[]>> = {
  // kill-all twice as rare as the others: it stops all service for a while.
  kill: ['kill', 'kill', 'kill-leader', 'kill-leader', 'kill-all'],
  pause: ['pause', 'pause-leader'],
  partition: [
    'partition-pair',
    'partition-one-way',
    'partition-halves',
    'partition-leader',
    'partition-bridge',
  ],
  disk: ['slow-disk', 'slow-disk-leader'],
};
const plannedFaultsMax = 10_000;

/**
 * The schedule: categories come in shuffled rounds (every four faults see a kill, a pause, a
 * partition and a slow disk, in some order), so that even a short run meets each category.
 */
export function planFaults(options: PlanOptions): PlannedFault[] {
  assert(options.count >= 0 && options.count <= plannedFaultsMax, 'plan at most 10 000 faults');
  assert(options.nodeIds.length >= 3, 'faults need at least 3 nodes');
  const random = new RunRandom(options.seed, RandomStream.nemesis);
  const plan: PlannedFault[] = [];
  let round: FaultCategory[] = [];
  while (plan.length < options.count) {
    if (round.length === 0) round = random.shuffled(faultCategories);
    const category = round.shift() as FaultCategory;
    const kind = random.pick(kindsByCategory[category]);
    plan.push({
      kind,
      gapMs: between(random, options.timing.gapMs),
      durationMs: between(random, durationRange(kind, options.timing)),
      order: random.shuffled(options.nodeIds),
      linkMode: random.percent(50) ? 'blackhole' : 'reset',
      direction: random.percent(50) ? 'outbound' : 'inbound',
      syncDelayMs: between(random, options.timing.syncDelayMs),
    });
  }
  return plan;
}

function durationRange(kind: FaultKind, timing: FaultTiming): MsRange {
  if (kind === 'kill-all') return timing.killAllDownMs;
  const category = categoryOf(kind);
  if (category === 'kill') return timing.killDownMs;
  if (category === 'pause') return timing.pauseMs;
  if (category === 'disk') return timing.slowDiskMs;
  return timing.partitionMs;
}

function between(random: RunRandom, range: MsRange): number {
  return random.between(range.min, range.max);
}

/** How many faults a run of `durationMs` can take at most: enough to plan. */
export function faultsFor(durationMs: number, timing: FaultTiming): number {
  const shortestMs = Math.max(1, timing.gapMs.min + timing.killAllDownMs.min);
  return Math.min(plannedFaultsMax, Math.ceil(durationMs / shortestMs) + 1);
}

// ---- Running the plan ---------------------------------------------------------------------------

/** A fault as it hit the cluster: what to do to start it and to undo it. */
export type AppliedFault =
  | { readonly type: 'kill'; readonly nodes: readonly number[] }
  | { readonly type: 'pause'; readonly node: number }
  | { readonly type: 'slow-disk'; readonly node: number; readonly syncDelayMs: number }
  | {
      readonly type: 'partition';
      readonly links: readonly DirectedLink[];
      readonly mode: 'blackhole' | 'reset';
      readonly description: string;
    };

/** The planned fault on the actual cluster: leader faults target `leader` when there is one. */
export function resolveFault(planned: PlannedFault, leader: number | undefined): AppliedFault {
  const leaderFirst =
    leader === undefined || !planned.order.includes(leader)
      ? planned.order
      : [leader, ...planned.order.filter((id) => id !== leader)];
  const isLeaderKind = planned.kind.endsWith('-leader');
  const order = isLeaderKind ? leaderFirst : planned.order;
  const first = order[0] as number;
  switch (planned.kind) {
    case 'kill':
    case 'kill-leader':
      return { type: 'kill', nodes: [first] };
    case 'kill-all':
      return { type: 'kill', nodes: [...order].sort((a, b) => a - b) };
    case 'pause':
    case 'pause-leader':
      return { type: 'pause', node: first };
    case 'slow-disk':
    case 'slow-disk-leader':
      return { type: 'slow-disk', node: first, syncDelayMs: planned.syncDelayMs };
    default:
      return resolvePartition(planned, order);
  }
}

function resolvePartition(planned: PlannedFault, order: readonly number[]): AppliedFault {
  const mode = planned.linkMode;
  const [first, second] = order as [number, number];
  if (planned.kind === 'partition-pair') {
    return {
      type: 'partition',
      links: between2([first], [second]),
      mode,
      description: `nodes ${first} and ${second} cut from each other`,
    };
  }
  if (planned.kind === 'partition-one-way') {
    const others = order.slice(1);
    const outbound = planned.direction === 'outbound';
    return {
      type: 'partition',
      links: others.map((other) =>
        outbound ? { from: first, to: other } : { from: other, to: first },
      ),
      mode,
      description: outbound
        ? `node ${first} cannot send to ${others.join(', ')} (one-way)`
        : `node ${first} cannot hear from ${others.join(', ')} (one-way)`,
    };
  }
  if (planned.kind === 'partition-bridge') {
    const rest = order.slice(1);
    const left = rest.slice(0, Math.floor(rest.length / 2));
    const right = rest.slice(left.length);
    return {
      type: 'partition',
      links: between2(left, right),
      mode,
      description: `${groupName(left)} | ${groupName(right)}, bridged by node ${first}`,
    };
  }
  const minoritySize = planned.kind === 'partition-leader' ? 1 : Math.floor((order.length - 1) / 2);
  const minority = order.slice(0, minoritySize);
  const majority = order.slice(minoritySize);
  const label = planned.kind === 'partition-leader' ? ' (the leader isolated)' : '';
  return {
    type: 'partition',
    links: between2(minority, majority),
    mode,
    description: `${groupName(minority)} | ${groupName(majority)}${label}`,
  };
}

/** Every link between the two groups, both ways. */
function between2(left: readonly number[], right: readonly number[]): DirectedLink[] {
  return left.flatMap((a) =>
    right.flatMap((b) => [
      { from: a, to: b },
      { from: b, to: a },
    ]),
  );
}

function groupName(ids: readonly number[]): string {
  return `{${[...ids].sort((a, b) => a - b).join(',')}}`;
}

export interface NemesisContext {
  readonly cluster: FaultCluster;
  readonly plan: readonly PlannedFault[];
  /** Ms since the run started. */
  readonly clock: () => number;
  /** No new fault starts at or after this time. */
  readonly deadlineMs: number;
  readonly events: FaultEvent[];
  readonly signal: AbortSignal;
}

/** Runs the plan until the deadline; every fault begun is undone before this resolves. */
export async function runNemesis(context: NemesisContext): Promise<void> {
  for (const planned of context.plan) {
    if (!(await pause(planned.gapMs, context))) return;
    if (context.clock() >= context.deadlineMs) return;
    const leader = planned.kind.endsWith('-leader')
      ? await context.cluster.currentLeader()
      : undefined;
    const applied = resolveFault(planned, leader);
    await begin(applied, planned.kind, leader, context);
    try {
      await pause(planned.durationMs, context);
    } finally {
      await undo(applied, context);
    }
  }
}

/** Sleeps; false when the run was aborted meanwhile. */
async function pause(ms: number, context: NemesisContext): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal: context.signal });
    return true;
  } catch {
    return false;
  }
}

async function begin(
  applied: AppliedFault,
  kind: FaultKind,
  leader: number | undefined,
  context: NemesisContext,
): Promise<void> {
  const { cluster } = context;
  const atMs = context.clock();
  const leaderNote = (node: number): string => (node === leader ? ' (the leader)' : '');
  if (applied.type === 'kill') {
    const nodes = applied.nodes.join(', ');
    const one = applied.nodes[0] as number;
    const description =
      applied.nodes.length === 1
        ? `kill -9 node ${one}${leaderNote(one)}`
        : `kill -9 nodes ${nodes}`;
    context.events.push({ atMs, kind, description });
    await Promise.all(applied.nodes.map((node) => cluster.kill(node)));
    return;
  }
  if (applied.type === 'pause') {
    context.events.push({
      atMs,
      kind,
      description: `SIGSTOP node ${applied.node}${leaderNote(applied.node)}`,
    });
    cluster.pause(applied.node);
    return;
  }
  if (applied.type === 'slow-disk') {
    context.events.push({
      atMs,
      kind,
      description: `node ${applied.node}${leaderNote(applied.node)}: each fsync waits ${applied.syncDelayMs} ms first`,
    });
    cluster.slowDisk(applied.node, applied.syncDelayMs);
    return;
  }
  context.events.push({ atMs, kind, description: `${applied.description} (${applied.mode})` });
  cluster.cutLinks(applied.links, applied.mode);
}

async function undo(applied: AppliedFault, context: NemesisContext): Promise<void> {
  const { cluster } = context;
  const atMs = context.clock();
  if (applied.type === 'kill') {
    context.events.push({
      atMs,
      kind: 'restart',
      description: `restart node${applied.nodes.length > 1 ? 's' : ''} ${applied.nodes.join(', ')}`,
    });
    await Promise.all(applied.nodes.map((node) => cluster.start(node)));
    return;
  }
  if (applied.type === 'pause') {
    context.events.push({ atMs, kind: 'resume', description: `SIGCONT node ${applied.node}` });
    cluster.resume(applied.node);
    return;
  }
  if (applied.type === 'slow-disk') {
    context.events.push({
      atMs,
      kind: 'heal',
      description: `node ${applied.node}: fsync fast again`,
    });
    cluster.healDisks();
    return;
  }
  context.events.push({ atMs, kind: 'heal', description: 'every link passes again' });
  cluster.healLinks();
}
