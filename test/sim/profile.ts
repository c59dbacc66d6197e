/**
 * A run's configuration, drawn from its seed: the core's timing and bounds, each node's clock
 * rate, the network's and the disks' normal behaviour, which fault kinds the run uses and how
 * often, and how busy its clients are. Different seeds thus explore different regimes (a lossy
 * network, tiny append batches, a crash-heavy run…) rather than one mix of everything.
 */
import { rawNodeDefaults } from '../../src/raft/raw-node.js';
import type { NodeId } from '../../src/raft/types.js';
import type { DiskLatency } from './disk.js';
import type { FaultKind } from './faults.js';
import { calmConditions, type LinkConditions } from './network.js';
import type { RaftSettings } from './node-host.js';
import type { SimRandom } from './random.js';

export interface RunProfile {
  /** Every node the run has: the bootstrap voters, then spares that may join the cluster. */
  readonly ids: readonly NodeId[];
  readonly voters: readonly NodeId[];
  readonly raft: RaftSettings;
  /** The nominal tick, the unit of every duration below given in ticks. */
  readonly tickUs: number;
  /** Each node's own tick length (its clock runs a little fast or slow), by position in `ids`. */
  readonly nodeTickUs: readonly number[];
  readonly network: LinkConditions;
  readonly disk: DiskLatency;
  /** The probability that a write in flight at a crash reaches the disk anyway. */
  readonly crashSurvivalProbability: number;
  /** A crashed node restarts 0 to this many ticks later. */
  readonly crashDownTicksMax: number;
  /** Hosts compact their log once this many applied entries follow their snapshot (0: never). */
  readonly compactEveryEntries: number;
  readonly snapshotFillerBytes: number;
  /** Each fault kind's weight in this run (absent or 0: never). */
  readonly faultWeights: ReadonlyMap<string, number>;
  /** Faults come every 1 to this many ticks. */
  readonly faultGapTicksMax: number;
  /** Clients propose every 1 µs to this many µs, 1 to `clientBatchMax` commands at a time. */
  readonly clientGapUsMax: number;
  readonly clientBatchMax: number;
  /** Clients ask for a linearizable read every 1 µs to this many µs. */
  readonly readGapUsMax: number;
}

/** The numeric knobs of a profile a run may set itself, to focus it (the seed chooses the rest). */
export const tunableProfileKeys = [
  'crashSurvivalProbability',
  'crashDownTicksMax',
  'compactEveryEntries',
  'snapshotFillerBytes',
  'faultGapTicksMax',
  'clientGapUsMax',
  'clientBatchMax',
  'readGapUsMax',
] as const;

export type ProfileOverrides = Partial<Pick<RunProfile, (typeof tunableProfileKeys)[number]>>;

export const nominalTickUs = 10_000;
/** Nodes outside the bootstrap cluster that membership changes may add. */
export const sparesWithMembershipChanges = 2;

export function chooseProfile(
  random: SimRandom,
  nodes: number,
  faults: readonly FaultKind[],
): RunProfile {
  const faultWeights = chooseFaultWeights(random, faults);
  const spares = (faultWeights.get('membership-change') ?? 0) > 0 ? sparesWithMembershipChanges : 0;
  const ids = Array.from({ length: nodes + spares }, (_, position) => position + 1);
  return {
    ids,
    voters: ids.slice(0, nodes),
    raft: chooseRaftSettings(random),
    tickUs: nominalTickUs,
    nodeTickUs: ids.map(() => random.between(nominalTickUs * 0.9, nominalTickUs * 1.1)),
    network: chooseNetwork(random),
    disk: chooseDisk(random),
    crashSurvivalProbability: random.pick([0, 0.5, 1]),
    crashDownTicksMax: random.pick([5, 20, 40]),
    compactEveryEntries: random.pick([0, 0, 4, 16, 64]),
    snapshotFillerBytes: random.pick([0, 100, 3_000]),
    faultWeights,
    faultGapTicksMax: random.pick([2, 5, 10, 20, 40]),
    clientGapUsMax: random.pick([4_000, 10_000, 30_000]),
    clientBatchMax: random.pick([1, 1, 2, 4]),
    readGapUsMax: random.pick([5_000, 20_000, 100_000]),
  };
}

/** The network of the quiet phase: reliable and prompt, as liveness is promised only then. */
export function quietNetwork(profile: RunProfile): LinkConditions {
  return { ...calmConditions, delayMinUs: profile.network.delayMinUs };
}

function chooseRaftSettings(random: SimRandom): RaftSettings {
  const electionTicks = random.between(5, 12);
  return {
    electionTicks,
    heartbeatTicks: random.between(1, Math.max(1, Math.floor(electionTicks / 3))),
    // Mostly as lockd runs, sometimes without them, so that both paths are exercised.
    preVote: random.chance(0.8),
    checkQuorum: random.chance(0.8),
    // Tiny batches and windows in some seeds, so that flow control (probe, replicate, a full
    // window) is exercised and not only the common case.
    maxEntriesPerAppend: random.pick([1, 2, 3, 16, rawNodeDefaults.maxEntriesPerAppend]),
    maxInflightAppends: random.pick([1, 2, 4, rawNodeDefaults.maxInflightAppends]),
    maxCommittedEntriesPerReady: random.pick([1, 3, rawNodeDefaults.maxCommittedEntriesPerReady]),
    maxPendingProposals: random.pick([8, 64, rawNodeDefaults.maxPendingProposals]),
    maxPendingReads: random.pick([2, 16, rawNodeDefaults.maxPendingReads]),
    maxSnapshotChunkBytes: random.pick([64, 1_000, rawNodeDefaults.maxSnapshotChunkBytes]),
    maxSnapshotChunksInFlight: random.pick([1, 2, rawNodeDefaults.maxSnapshotChunksInFlight]),
    // lockd sends a leader's appends before its own fsync; some seeds keep the plain order.
    earlyMessages: random.chance(0.8),
    // lockd defers a commit index with nothing to carry it; some seeds send it at once.
    deferCommitBroadcast: random.chance(0.8),
  };
}

function chooseNetwork(random: SimRandom): LinkConditions {
  const delayMinUs = random.between(50, 1_000);
  return {
    lossProbability: random.pick([0, 0, 0.01, 0.05, 0.15]),
    duplicateProbability: random.pick([0, 0, 0.01, 0.05]),
    delayMinUs,
    delayMaxUs: delayMinUs + random.pick([0, 500, 3_000, 8_000]),
    reorderProbability: random.pick([0, 0.02, 0.1]),
    reorderDelayMaxUs: random.between(0, 3 * nominalTickUs),
  };
}

function chooseDisk(random: SimRandom): DiskLatency {
  const minUs = random.between(20, 1_000);
  return { minUs, maxUs: minUs + random.pick([0, 500, 2_000, 6_000]) };
}

/** Each kind is in the run with probability 0.7, with a weight of 1 to 10; at least one is. */
function chooseFaultWeights(random: SimRandom, faults: readonly FaultKind[]): Map<string, number> {
  const weights = new Map<string, number>();
  for (const fault of faults) {
    if (random.chance(0.7)) weights.set(fault.name, random.between(1, 10));
  }
  if (weights.size === 0 && faults.length > 0) weights.set(random.pick(faults).name, 1);
  return weights;
}
