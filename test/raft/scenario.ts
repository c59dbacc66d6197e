/**
 * A small randomized scenario on the in-memory network: message loss, reordering, partitions,
 * crashes and restarts, with log compaction, linearizable reads, leadership transfers and
 * membership changes mixed in, and the safety properties checked after every step; then a phase
 * without faults in which the cluster must converge. Deterministic for a given seed.
 */
import assert from 'node:assert/strict';
import { decodeConfChangeEntry } from '../../src/raft/configuration.js';
import { SeededRandom } from '../../src/raft/random.js';
import type { TestingBugs } from '../../src/raft/raw-node.js';
import { type ConfChange, EntryType, type NodeId } from '../../src/raft/types.js';
import { bytes, Network, type NodeOptions } from './network.js';

export interface ScenarioOptions {
  readonly seed: number;
  /** The bootstrap voters; one more node waits to join. */
  readonly size: number;
  readonly steps: number;
  readonly electionTicks?: number;
  readonly dropRate?: number;
  /** Test only: a deliberately broken core, to show that the checks catch it. */
  readonly testingBugs?: TestingBugs;
  /** Leave out the phase in which the cluster must converge (bug hunts need only the faults). */
  readonly skipConvergence?: boolean;
  /** Replace some action weights (per mille; the rest keep theirs, "deliver" takes up the slack). */
  readonly weights?: Partial<Record<Action, number>>;
  /** Replace some of the randomly drawn node options. */
  readonly nodeOptions?: NodeOptions;
  /** Check only the five properties of the paper's Figure 3, not the §5.4.2 commit rule itself. */
  readonly endToEndChecksOnly?: boolean;
}

/** What a scenario did, so that a test can tell a busy run from a vacuous one. */
export interface ScenarioStats {
  readonly terms: number;
  readonly proposalsAccepted: number;
  readonly entriesCommittedDuringFaults: number;
  readonly crashes: number;
  readonly partitions: number;
  readonly inFlightMax: number;
  readonly readsConfirmed: number;
  readonly snapshotsInstalled: number;
  readonly membershipChanges: number;
  readonly transfers: number;
}

/**
 * The weights of the actions, per mille. Time (a tick of every running node) is rarer than message
 * handling, as in a real cluster where a tick is ~100 ms; partitions change every dozen ticks or
 * so, long enough for elections to finish in between; crashes are rarer still.
 */
const defaultWeights = {
  deliver: 296,
  processReady: 300,
  tick: 150,
  propose: 140,
  read: 30,
  drop: 20,
  compact: 15,
  partition: 12,
  isolateLeader: 4,
  restart: 12,
  membership: 10,
  crash: 6,
  transfer: 5,
} as const;

export type Action = keyof typeof defaultWeights;

interface Counters {
  proposalsAccepted: number;
  crashes: number;
  partitions: number;
  inFlightMax: number;
  membershipChanges: number;
  transfers: number;
  snapshotsInstalled: number;
}

export function runScenario(options: ScenarioOptions): ScenarioStats {
  const network = createNetwork(options);
  const weights = { ...defaultWeights, ...options.weights };
  network.safety.checkCommitRule = options.endToEndChecksOnly !== true;
  const counters: Counters = {
    proposalsAccepted: 0,
    crashes: 0,
    partitions: 0,
    inFlightMax: 0,
    membershipChanges: 0,
    transfers: 0,
    snapshotsInstalled: 0,
  };
  network.onSend = (message) => {
    if (message.type === 'InstallSnapshotResponse' && message.installed) {
      counters.snapshotsInstalled++;
    }
  };
  for (let step = 0; step < options.steps; step++) {
    runAction(network, chooseAction(network, weights), counters, options.seed);
    network.checkSafety();
    counters.inFlightMax = Math.max(counters.inFlightMax, network.inFlight.length);
  }
  const entriesCommittedDuringFaults = network.safety.appliedAt.size;
  if (options.skipConvergence !== true) converge(network, options);
  const readsConfirmed = [...network.reads.values()].filter((read) => read.answer?.ok).length;
  return {
    ...counters,
    terms: network.safety.leaderOfTerm.size,
    entriesCommittedDuringFaults,
    readsConfirmed,
  };
}

function createNetwork(options: ScenarioOptions): Network {
  const voters = Array.from({ length: options.size }, (_, position) => position + 1);
  // Tiny batches, windows and chunks, so that AppendEntries often carry less than the leader's
  // log, flow control (probe, replicate, full windows) is exercised, and snapshots take several
  // chunks. PreVote and CheckQuorum are each off in some seeds.
  const bounds = new SeededRandom(options.seed);
  return new Network({
    ids: [...voters, options.size + 1],
    voters,
    seed: options.seed,
    reorder: true,
    dropRate: options.dropRate ?? 0.05,
    // Each host handles its Ready only every few ticks here, so a heartbeat's round trip takes
    // several ticks: a shorter timeout makes CheckQuorum and followers churn without any fault.
    electionTicks: options.electionTicks ?? 8,
    heartbeatTicks: 1,
    nodeOptions: {
      preVote: bounds.nextInt(4) !== 0,
      checkQuorum: bounds.nextInt(3) !== 0,
      maxEntriesPerAppend: 1 + bounds.nextInt(4),
      maxBytesPerAppend: 8 + bounds.nextInt(64),
      maxInflightAppends: 1 + bounds.nextInt(3),
      maxCommittedEntriesPerReady: 1 + bounds.nextInt(8),
      maxSnapshotChunkBytes: 16 + bounds.nextInt(64),
      maxSnapshotChunksInFlight: 1 + bounds.nextInt(3),
      maxPendingReads: 1 + bounds.nextInt(8),
      ...(options.testingBugs === undefined ? {} : { testingBugs: options.testingBugs }),
      ...options.nodeOptions,
    },
  });
}

function chooseAction(network: Network, weights: Record<Action, number>): Action {
  let roll = network.random.nextInt(1000);
  for (const [action, weight] of Object.entries(weights) as [Action, number][]) {
    if (roll < weight) return action;
    roll -= weight;
  }
  return 'deliver';
}

function runAction(network: Network, action: Action, counters: Counters, seed: number): void {
  const alive = network.aliveIds();
  const id = pick(network, alive);
  switch (action) {
    case 'deliver':
      // A burst, so that delivery keeps up with what ticks produce and the pool stays small.
      for (let burst = 1 + network.random.nextInt(16); burst > 0; burst--) network.deliverOne();
      break;
    case 'drop':
      network.dropOne();
      break;
    case 'tick':
      network.tickAll();
      break;
    case 'processReady':
      if (id !== undefined) network.processReady(id);
      break;
    case 'propose': {
      const data = bytes(`s${seed}-p${counters.proposalsAccepted}`);
      if (id !== undefined && network.propose(id, data).ok) counters.proposalsAccepted++;
      break;
    }
    case 'read':
      if (id !== undefined) network.read(id);
      break;
    case 'compact':
      if (id !== undefined) compactSome(network, id);
      break;
    case 'partition':
      counters.partitions++;
      randomPartition(network);
      break;
    case 'isolateLeader': {
      // The nemesis that hurts most: cut the leader off just as it starts its work.
      const leader = network.currentLeader();
      if (leader !== undefined) {
        counters.partitions++;
        network.isolate(leader);
      }
      break;
    }
    case 'restart': {
      const down = pick(
        network,
        network.ids.filter((other) => !network.isAlive(other)),
      );
      if (down !== undefined) network.restart(down);
      break;
    }
    case 'crash':
      if (id !== undefined && alive.length > 1) {
        network.crash(id);
        counters.crashes++;
      }
      break;
    case 'membership':
      if (changeMembership(network)) counters.membershipChanges++;
      break;
    case 'transfer':
      if (transferLeadership(network)) counters.transfers++;
      break;
  }
}

function pick(network: Network, items: readonly NodeId[]): NodeId | undefined {
  return items.length === 0 ? undefined : items[network.random.nextInt(items.length)];
}

/** The host snapshots its state machine at, or a little below, its applied index. */
function compactSome(network: Network, id: NodeId): void {
  const { appliedIndex, snapshotIndex } = network.node(id).status();
  if (appliedIndex <= snapshotIndex) return;
  const keep = network.random.nextInt(Math.min(3, appliedIndex - snapshotIndex));
  network.compact(id, appliedIndex - keep);
}

function changeMembership(network: Network): boolean {
  const leader = network.currentLeader();
  if (leader === undefined) return false;
  const { voters, learners } = network.node(leader).status();
  const changes: ConfChange[] = [
    ...network.ids
      .filter((id) => !voters.includes(id) && !learners.includes(id))
      .map((node) => ({ type: 'add-learner', node }) as const),
    ...learners.map((node) => ({ type: 'promote-learner', node }) as const),
    ...learners.map((node) => ({ type: 'remove-learner', node }) as const),
    ...(voters.length > 2 ? voters.map((node) => ({ type: 'remove-voter', node }) as const) : []),
  ];
  const change = changes[network.random.nextInt(changes.length)];
  return change !== undefined && network.proposeConfChange(leader, change).ok;
}

function transferLeadership(network: Network): boolean {
  const leader = network.currentLeader();
  if (leader === undefined) return false;
  const to = pick(network, network.node(leader).status().voters);
  return to !== undefined && network.node(leader).transferLeadership(to).ok;
}

function randomPartition(network: Network): void {
  if (network.random.nextInt(3) === 0) {
    network.heal();
    return;
  }
  const side = network.ids.filter(() => network.random.nextInt(2) === 0);
  network.partition(
    side,
    network.ids.filter((id) => !side.includes(id)),
  );
}

/** The members of the latest committed membership (the bootstrap voters if none changed it). */
function committedMembers(network: Network, bootstrap: readonly NodeId[]): NodeId[] {
  for (let position = network.safety.committed.length - 1; position >= 0; position--) {
    const entry = network.safety.committed[position]?.entry;
    if (entry?.type !== EntryType.confChange) continue;
    const record = decodeConfChangeEntry(entry.data);
    assert.ok(record !== undefined, 'a committed membership change decodes');
    return [...record.confState.voters, ...record.confState.learners];
  }
  return [...bootstrap];
}

/**
 * With the faults gone, the cluster must elect one leader and bring every member to the same
 * state. Nodes outside the committed membership are shut down first, as an operator would.
 */
function converge(network: Network, options: ScenarioOptions): void {
  network.heal();
  network.dropRate = 0;
  const bootstrap = Array.from({ length: options.size }, (_, position) => position + 1);
  const members = committedMembers(network, bootstrap);
  for (const id of network.ids) {
    if (!members.includes(id) && network.isAlive(id)) network.crash(id);
    if (members.includes(id) && !network.isAlive(id)) network.restart(id);
  }
  network.electLeader(2000);
  const final = proposeUntilApplied(network, bytes(`s${options.seed}-final`));
  const finalMembers = () =>
    network.membersSeenBy(final.leader).filter((id) => network.isAlive(id));
  const index = final.index;
  const sequences = finalMembers().map((id) =>
    network
      .simulated(id)
      .applied.slice(0, index)
      .map((entry) => `${entry.index}@${entry.term}`)
      .join(),
  );
  for (const sequence of sequences) assert.equal(sequence, sequences[0]);
  network.checkSafety();
}

/**
 * Proposes `data` to the current leader until a proposal is applied by every running member. A
 * proposal is made again if its leader loses its term before that (the entry may be lost with it),
 * or refuses it (during a leadership transfer, say).
 */
function proposeUntilApplied(
  network: Network,
  data: Uint8Array,
): { leader: NodeId; index: number } {
  let proposal: { leader: NodeId; index: number; term: number } | undefined;
  network.runUntil(() => {
    if (proposal !== undefined) {
      const { leader, index, term } = proposal;
      const members = network.membersSeenBy(leader).filter((id) => network.isAlive(id));
      if (members.every((id) => network.simulated(id).applied.length >= index)) return true;
      const status = network.node(leader).status();
      if (status.role === 'leader' && status.term === term) return false;
      proposal = undefined;
    }
    const leader = network.currentLeader();
    const result = leader === undefined ? undefined : network.propose(leader, data);
    if (leader !== undefined && result?.ok === true) {
      proposal = { leader, index: result.index, term: result.term };
    }
    return false;
  }, 400);
  if (proposal === undefined) throw new Error('no proposal was applied');
  return proposal;
}
