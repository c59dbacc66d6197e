/**
 * The faults a run may inject, each a named kind with its own seeded choices and its own healing.
 * A run's profile gives each kind a weight (0: never in this seed), and the simulator injects one
 * drawn by weight at random intervals during the fault phase. The quiet phase undoes every fault at
 * once, so a fault's scheduled end may find it already healed and must then do nothing.
 *
 * Adding a fault: write a FaultKind and list it in `faultRegistry`.
 */
import type { ConfChange, NodeId } from '../../src/raft/types.js';
import { assert } from '../../src/util/assert.js';
import type { SimNetwork } from './network.js';
import { partitionLinks } from './network.js';
import type { NodeHost } from './node-host.js';
import type { SimRandom } from './random.js';

export interface FaultContext {
  readonly random: SimRandom;
  /** Nodes that started outside the cluster and were never proposed for it. */
  unusedSpares(): readonly NodeHost[];
  /** A spare proposed for the cluster is never proposed again (nor is a removed node re-added). */
  markSpareUsed(id: NodeId): void;
  readonly network: SimNetwork;
  readonly hosts: readonly NodeHost[];
  readonly ids: readonly NodeId[];
  /** The nominal length of a tick, the unit of fault durations. */
  readonly tickUs: number;
  /** A crashed node restarts 0 to this many ticks later. */
  readonly crashDownTicksMax: number;
  /** Runs `action` after `delayUs` of virtual time. */
  later(delayUs: number, action: () => void): void;
  crash(host: NodeHost): void;
  /** Starts a crashed node again (does nothing if it is running). */
  restart(host: NodeHost): void;
  /** The running node that leads the highest term, if any. */
  leader(): NodeHost | undefined;
}

export interface FaultKind {
  readonly name: string;
  /** Injects the fault and schedules its end. Returns what it did, or undefined if it could not. */
  inject(context: FaultContext): string | undefined;
}

/** A duration of `minTicks` to `maxTicks` ticks, in microseconds. */
function duration(context: FaultContext, minTicks: number, maxTicks: number): number {
  return context.random.between(minTicks * context.tickUs, maxTicks * context.tickUs);
}

function milliseconds(us: number): string {
  return `${Math.round(us / 1000)} ms`;
}

const messageLoss: FaultKind = {
  name: 'loss',
  inject(context) {
    const percent = context.random.between(10, 70);
    const lasting = duration(context, 1, 30);
    const token = context.network.setWeather({
      ...context.network.conditions,
      lossProbability: percent / 100,
    });
    context.later(lasting, () => context.network.clearWeather(token));
    return `lose ${percent}% of messages for ${milliseconds(lasting)}`;
  },
};

const messageDuplication: FaultKind = {
  name: 'duplication',
  inject(context) {
    const percent = context.random.between(5, 40);
    const lasting = duration(context, 1, 30);
    const token = context.network.setWeather({
      ...context.network.conditions,
      duplicateProbability: percent / 100,
    });
    context.later(lasting, () => context.network.clearWeather(token));
    return `duplicate ${percent}% of messages for ${milliseconds(lasting)}`;
  },
};

/** Long and uneven delays: messages arrive late and far out of order. */
const messageDelay: FaultKind = {
  name: 'delay',
  inject(context) {
    const conditions = context.network.conditions;
    const delayMaxUs = conditions.delayMinUs + duration(context, 1, 8);
    const lasting = duration(context, 2, 40);
    const token = context.network.setWeather({
      ...conditions,
      delayMaxUs,
      reorderProbability: context.random.between(10, 50) / 100,
      reorderDelayMaxUs: duration(context, 1, 15),
    });
    context.later(lasting, () => context.network.clearWeather(token));
    return `delay messages up to ${milliseconds(delayMaxUs)} for ${milliseconds(lasting)}`;
  },
};

/** Splits the nodes into two sides that cannot talk, both ways, until it heals. */
const symmetricPartition: FaultKind = {
  name: 'partition',
  inject(context) {
    const shuffled = shuffle(context.random, context.ids);
    const split = context.random.between(1, shuffled.length - 1);
    const sides = [shuffled.slice(0, split), shuffled.slice(split)];
    return cutFor(context, partitionLinks(context.ids, sides), `partition ${formatSides(sides)}`);
  },
};

/** Cuts links in one direction only: a node that hears but is not heard, or the reverse. */
const oneWayPartition: FaultKind = {
  name: 'one-way-partition',
  inject(context) {
    const node = context.random.pick(context.ids);
    const others = context.ids.filter((id) => id !== node);
    const outgoing = context.random.chance(0.5);
    const chosen = others.filter(() => context.random.chance(0.6));
    const peers = chosen.length > 0 ? chosen : others;
    const links = peers.map((peer): [NodeId, NodeId] => (outgoing ? [node, peer] : [peer, node]));
    const arrow = outgoing ? `${node} -/-> ${peers.join(',')}` : `${peers.join(',')} -/-> ${node}`;
    return cutFor(context, links, `one-way partition ${arrow}`);
  },
};

/** Cuts the leader off from everyone, both ways: its followers must elect another. */
const isolateLeader: FaultKind = {
  name: 'isolate-leader',
  inject(context) {
    const leader = context.leader();
    if (leader === undefined) return undefined;
    const others = context.ids.filter((id) => id !== leader.id);
    const links = partitionLinks(context.ids, [[leader.id], others]);
    return cutFor(context, links, `isolate leader ${leader.id}`);
  },
};

function cutFor(
  context: FaultContext,
  links: readonly (readonly [NodeId, NodeId])[],
  description: string,
): string {
  const lasting = duration(context, 2, 60);
  const cut = context.network.cut(links);
  context.later(lasting, () => context.network.heal(cut));
  return `${description} for ${milliseconds(lasting)}`;
}

const crashNode: FaultKind = {
  name: 'crash',
  inject(context) {
    const alive = context.hosts.filter((host) => host.alive);
    if (alive.length === 0) return undefined;
    return crashFor(context, context.random.pick(alive), 'crash');
  },
};

const crashLeader: FaultKind = {
  name: 'crash-leader',
  inject(context) {
    const leader = context.leader();
    return leader === undefined ? undefined : crashFor(context, leader, 'crash leader');
  },
};

/** Every node loses power at once: only what each had synced survives. */
const powerLoss: FaultKind = {
  name: 'power-loss',
  inject(context) {
    const alive = context.hosts.filter((host) => host.alive);
    if (alive.length === 0) return undefined;
    for (const host of alive) crashFor(context, host, 'power loss');
    return `power loss on ${alive.map((host) => host.id).join(',')}`;
  },
};

function crashFor(context: FaultContext, host: NodeHost, description: string): string {
  const down = duration(context, 0, context.crashDownTicksMax);
  context.crash(host);
  context.later(down, () => context.restart(host));
  return `${description} ${host.id} for ${milliseconds(down)}`;
}

/** One node's fsyncs take up to several ticks: its votes and acknowledgements come late. */
const slowDisk: FaultKind = {
  name: 'slow-disk',
  inject(context) {
    const host = context.random.pick(context.hosts);
    const maxUs = duration(context, 1, 12);
    const lasting = duration(context, 5, 80);
    const token = host.disk.setSlow({ minUs: Math.floor(maxUs / 4), maxUs });
    context.later(lasting, () => host.disk.clearSlow(token));
    return `slow disk on ${host.id} (fsync up to ${milliseconds(maxUs)}) for ${milliseconds(lasting)}`;
  },
};

/** The leader hands leadership to another voter (TimeoutNow), as an operator or a drain would. */
const transferLeadership: FaultKind = {
  name: 'transfer-leadership',
  inject(context) {
    const leader = context.leader();
    const others = leader?.status?.voters.filter((id) => id !== leader.id) ?? [];
    if (leader === undefined || others.length === 0) return undefined;
    const to = context.random.pick(others);
    const result = leader.transferLeadership(to);
    return result?.ok === true ? `transfer leadership ${leader.id} -> ${to}` : undefined;
  },
};

/**
 * One single-server membership change, proposed to the leader: a spare joins as a learner, a
 * learner is promoted, or a voter or learner is removed (never below two voters). A removed node
 * keeps running, as a forgotten process would, and is never added back.
 */
const membershipChange: FaultKind = {
  name: 'membership-change',
  inject(context) {
    const leader = context.leader();
    const status = leader?.status;
    if (leader === undefined || status === undefined) return undefined;
    const changes: ConfChange[] = [];
    for (const spare of context.unusedSpares())
      changes.push({ type: 'add-learner', node: spare.id });
    for (const node of status.learners) {
      changes.push({ type: 'promote-learner', node }, { type: 'remove-learner', node });
    }
    if (status.voters.length > 2) {
      for (const node of status.voters) changes.push({ type: 'remove-voter', node });
    }
    if (changes.length === 0) return undefined;
    const change = context.random.pick(changes);
    const result = leader.proposeConfChange(change);
    if (result?.ok !== true) return undefined;
    if (change.type === 'add-learner') context.markSpareUsed(change.node);
    return `propose ${change.type} ${change.node} to leader ${leader.id}`;
  },
};

/** A node snapshots its state machine and compacts its log now (hosts also do it by themselves). */
const compactLog: FaultKind = {
  name: 'compact',
  inject(context) {
    const alive = context.hosts.filter((host) => host.alive);
    if (alive.length === 0) return undefined;
    const host = context.random.pick(alive);
    const snapshot = host.compactNow();
    return snapshot === undefined
      ? undefined
      : `node ${host.id} compacts through ${snapshot.index}`;
  },
};

/** A voter starts an election at once, as if its election timeout had passed. */
const campaignNow: FaultKind = {
  name: 'campaign',
  inject(context) {
    const voters = context.hosts.filter((host) => host.status?.voters.includes(host.id) === true);
    if (voters.length === 0) return undefined;
    const host = context.random.pick(voters);
    host.campaign();
    return `node ${host.id} campaigns`;
  },
};

/** Every fault kind the simulator can inject. */
export const faultRegistry: readonly FaultKind[] = [
  messageLoss,
  messageDuplication,
  messageDelay,
  symmetricPartition,
  oneWayPartition,
  isolateLeader,
  crashNode,
  crashLeader,
  powerLoss,
  slowDisk,
  transferLeadership,
  membershipChange,
  compactLog,
  campaignNow,
];

function shuffle<T>(random: SimRandom, items: readonly T[]): T[] {
  const result = [...items];
  for (let position = result.length - 1; position > 0; position--) {
    const other = random.nextInt(position + 1);
    const item = result[position];
    const swapped = result[other];
    assert(item !== undefined && swapped !== undefined, 'shuffle out of range');
    result[position] = swapped;
    result[other] = item;
  }
  return result;
}

function formatSides(sides: readonly (readonly NodeId[])[]): string {
  return sides.map((side) => `{${side.join(',')}}`).join(' | ');
}
