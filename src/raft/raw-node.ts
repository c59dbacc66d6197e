import { assert } from '../util/assert.js';
import { confState } from './configuration.js';
import { Raft, type TestingBugs } from './raft.js';
import type {
  ConfChange,
  ConfChangeResult,
  HardState,
  Message,
  NodeId,
  PeerProgress,
  PersistedState,
  ProposeResult,
  RaftStatus,
  Random,
  ReadIndexResult,
  Ready,
  Snapshot,
  SoftState,
  TransferResult,
} from './types.js';
import { noNode } from './types.js';

export type { TestingBugs } from './raft.js';

export interface RawNodeOptions {
  readonly id: NodeId;
  /**
   * The voters of the bootstrap configuration, including this node's own id (or in `learners`).
   * Used only until the persisted snapshot or log says otherwise: the membership is the latest
   * in the log. Empty for a node that joins an existing cluster: it learns its membership from
   * the leader's log or snapshot, and never campaigns before it is a voter.
   */
  readonly peers: readonly NodeId[];
  /** The learners of the bootstrap configuration (default none). */
  readonly learners?: readonly NodeId[];
  /** The base election timeout in ticks; each timeout is drawn from [electionTicks, 2 * electionTicks). */
  readonly electionTicks: number;
  /** A leader sends heartbeats every heartbeatTicks ticks. Must be below electionTicks. */
  readonly heartbeatTicks: number;
  readonly random: Random;
  /** What the host loaded from its storage (an empty log and emptyHardState on first start). */
  readonly persisted: PersistedState;
  /**
   * PreVote (thesis §9.6, default true): a node asks whether it could win before it raises its
   * term, so that a node that was cut off does not depose a healthy leader when it returns.
   */
  readonly preVote?: boolean;
  /**
   * CheckQuorum (default true): a leader that has not heard from a quorum for an election timeout
   * steps down; and a node that hears from a live leader ignores vote requests (thesis §4.2.3).
   */
  readonly checkQuorum?: boolean;
  /** The most entries one AppendEntries carries (default 256). */
  readonly maxEntriesPerAppend?: number;
  /** The most bytes of entry data one AppendEntries carries, past its first entry (default 1 MiB). */
  readonly maxBytesPerAppend?: number;
  /** The most proposed-but-uncommitted entries a leader holds before refusing more (default 10 000). */
  readonly maxPendingProposals?: number;
  /** The most bytes of uncommitted entry data a leader holds before refusing more (default 64 MiB). */
  readonly maxPendingProposalBytes?: number;
  /** The most unacknowledged AppendEntries per follower while streaming (default 8). */
  readonly maxInflightAppends?: number;
  /** The most committed entries one Ready hands out, so that a long replay comes in batches (default 1024). */
  readonly maxCommittedEntriesPerReady?: number;
  /** The most linearizable reads waiting on this node, as leader or forwarder (default 4096). */
  readonly maxPendingReads?: number;
  /** The most snapshot bytes in one InstallSnapshot chunk (default 512 KiB). */
  readonly maxSnapshotChunkBytes?: number;
  /** The most unacknowledged snapshot chunks per follower (default 4). */
  readonly maxSnapshotChunksInFlight?: number;
  /** The largest snapshot a follower takes from its leader, held in memory whole (default 1 GiB). */
  readonly maxSnapshotBytes?: number;
  /**
   * Hand a leader's replication messages out in `Ready.earlyMessages`, to be sent before the
   * Ready is persisted (default false: every message in `Ready.messages`). See `Ready`.
   */
  readonly earlyMessages?: boolean;
  /**
   * A leader whose commit index advanced with nothing new to send does not send it at once in
   * an AppendEntries of its own: it travels with the next entries, the next heartbeat, or when
   * the host calls broadcastCommit() (see owesCommit()). Followers need it only to apply, so
   * this saves a message and its answer per commit when writes come one at a time. A leader
   * answering a follower's read sends it first. Default false.
   */
  readonly deferCommitBroadcast?: boolean;
  /**
   * TEST ONLY: deliberate bugs, so that tests can show the simulator catches them. Production
   * code never sets this. See TestingBugs in raft.ts.
   */
  readonly testingBugs?: TestingBugs;
}

export const rawNodeDefaults = {
  preVote: true,
  checkQuorum: true,
  maxEntriesPerAppend: 256,
  maxBytesPerAppend: 1024 * 1024,
  maxPendingProposals: 10_000,
  maxPendingProposalBytes: 64 * 1024 * 1024,
  maxInflightAppends: 8,
  maxCommittedEntriesPerReady: 1024,
  maxPendingReads: 4096,
  maxSnapshotChunkBytes: 512 * 1024,
  maxSnapshotChunksInFlight: 4,
  maxSnapshotBytes: 1024 * 1024 * 1024,
} as const;

/** What the outstanding Ready handed out, to be acknowledged by advance(). */
interface Outstanding {
  readonly appliedTo: number;
}

/**
 * The consensus core as its host sees it, after etcd's RawNode: synchronous, single-threaded, with
 * no I/O of its own. The host feeds it ticks, messages, proposals, membership changes, reads,
 * transfers and compactions, and drives its output with hasReady() / ready() / advance() under the
 * ordering contract written on `Ready`.
 *
 * Who applies what: the host applies normal entries to its state machine, and restores it from
 * Ready.snapshot. The core applies membership changes itself, as soon as their entries are in its
 * log (thesis §4.1); a committed EntryType.confChange entry tells the host a change is final, and
 * `decodeConfChangeEntry` reads it. The host takes snapshots of its state machine and hands them
 * to compact().
 *
 * Every input may be called between ready() and advance(): what it produces goes into the next
 * Ready, except compact(), which needs the applied index that advance() records.
 */
export class RawNode {
  readonly #raft: Raft;
  readonly #maxCommittedEntriesPerReady: number;
  readonly #testingBugs: TestingBugs;
  readonly #earlyMessages: boolean;
  /** The soft and hard state last handed out, to tell whether they changed since. */
  #previousSoftState: SoftState = { role: 'follower', leader: noNode };
  #previousHardState: HardState;
  #outstanding: Outstanding | undefined = undefined;

  constructor(options: RawNodeOptions) {
    validateOptions(options);
    const defaults = rawNodeDefaults;
    this.#maxCommittedEntriesPerReady =
      options.maxCommittedEntriesPerReady ?? defaults.maxCommittedEntriesPerReady;
    this.#testingBugs = options.testingBugs ?? {};
    this.#earlyMessages = options.earlyMessages ?? false;
    this.#previousHardState = options.persisted.hardState;
    this.#raft = new Raft({
      id: options.id,
      bootstrap: confState(options.peers, options.learners ?? []),
      electionTicks: options.electionTicks,
      heartbeatTicks: options.heartbeatTicks,
      random: options.random,
      persisted: options.persisted,
      preVote: options.preVote ?? defaults.preVote,
      checkQuorum: options.checkQuorum ?? defaults.checkQuorum,
      maxEntriesPerAppend: options.maxEntriesPerAppend ?? defaults.maxEntriesPerAppend,
      maxBytesPerAppend: options.maxBytesPerAppend ?? defaults.maxBytesPerAppend,
      maxPendingProposals: options.maxPendingProposals ?? defaults.maxPendingProposals,
      maxPendingProposalBytes: options.maxPendingProposalBytes ?? defaults.maxPendingProposalBytes,
      maxInflightAppends: options.maxInflightAppends ?? defaults.maxInflightAppends,
      maxPendingReads: options.maxPendingReads ?? defaults.maxPendingReads,
      maxSnapshotChunkBytes: options.maxSnapshotChunkBytes ?? defaults.maxSnapshotChunkBytes,
      maxSnapshotChunksInFlight:
        options.maxSnapshotChunksInFlight ?? defaults.maxSnapshotChunksInFlight,
      maxSnapshotBytes: options.maxSnapshotBytes ?? defaults.maxSnapshotBytes,
      deferCommitBroadcast: options.deferCommitBroadcast ?? false,
      testingBugs: this.#testingBugs,
    });
  }

  tick(): void {
    this.#raft.tick();
  }

  /** Leader only: whether a follower has not been sent the commit index (deferCommitBroadcast). */
  owesCommit(): boolean {
    return this.#raft.owesCommit();
  }

  /** Leader only: sends the commit index to every follower not sent it yet; a no-op otherwise. */
  broadcastCommit(): void {
    this.#raft.broadcastCommit();
  }

  /** Messages not addressed to this node, from itself, or malformed are ignored. */
  step(message: Message): void {
    this.#raft.step(message);
  }

  /** Appends `data` to the log if this node leads; the entry commits later, or never if it loses. */
  propose(data: Uint8Array): ProposeResult {
    return this.#raft.propose(data);
  }

  /**
   * Proposes a membership change (leader only, one at a time, and only once the leader has
   * committed an entry of its term). It takes effect as soon as its entry is in a node's log, on
   * every node, without the host doing anything; the committed entry (EntryType.confChange) tells
   * the host it is final. A removed leader steps down once its removal commits.
   */
  proposeConfChange(change: ConfChange): ConfChangeResult {
    return this.#raft.proposeConfChange(change);
  }

  /**
   * Asks for a linearizable read. Its answer comes later in Ready.readStates under the same
   * `requestId` (which must not be pending already): once the host has applied the index given
   * there, its state answers the read. Fails at once if no leader is known.
   */
  readIndex(requestId: number): ReadIndexResult {
    return this.#raft.readIndex(requestId);
  }

  /** Hands leadership to voter `to` (leader only); proposals are refused meanwhile. */
  transferLeadership(to: NodeId): TransferResult {
    return this.#raft.transferLeadership(to);
  }

  /** Starts an election now (with a pre-vote first if enabled), as if the timeout had elapsed. */
  campaign(): void {
    this.#raft.campaign();
  }

  /**
   * The host took a snapshot of its state machine at `index`, at or below the applied index (call
   * it after advance()). The log up to `index` is dropped; `data` is kept (and must not be modified)
   * to bring followers that fell behind it up to date. Returns the snapshot for the host to
   * persist before it deletes those entries from its storage, or undefined if the log is already
   * compacted at or past `index`.
   */
  compact(index: number, data: Uint8Array): Snapshot | undefined {
    assert(
      Number.isSafeInteger(index) && index <= this.#raft.log.applied,
      `compact(${index}) beyond the applied index ${this.#raft.log.applied}`,
    );
    return this.#raft.compact(index, data);
  }

  /** Leader only: how each follower's log stands (empty on other nodes). */
  progress(): PeerProgress[] {
    return this.#raft.peerProgress();
  }

  /** Whether ready() has work for the host. Always false while a Ready awaits its advance(). */
  hasReady(): boolean {
    if (this.#outstanding !== undefined) return false;
    const raft = this.#raft;
    return (
      raft.hasPendingMessages() ||
      raft.hasReadStates() ||
      raft.log.hasPendingSnapshot() ||
      raft.log.hasUnstableEntries() ||
      raft.log.hasNextCommittedEntries() ||
      !sameSoftState(this.#softState(), this.#previousSoftState) ||
      !sameHardState(this.#hardState(), this.#previousHardState)
    );
  }

  ready(): Ready {
    assert(this.#outstanding === undefined, 'ready() called again before advance()');
    const raft = this.#raft;
    const log = raft.log;
    raft.flush();
    const softState = this.#softState();
    const hardState = this.#hardState();
    const snapshot = log.takePendingSnapshot();
    const entries = log.unstableEntries();
    const committedEntries =
      this.#testingBugs.applyBeforeCommit === true
        ? log.slice(log.applied + 1, log.lastIndex(), this.#maxCommittedEntriesPerReady)
        : log.nextCommittedEntries(this.#maxCommittedEntriesPerReady);
    const lastCommitted = committedEntries.at(-1);
    // The host applies only what is durable: committed entries are in this Ready or an earlier one.
    assert(lastCommitted === undefined || lastCommitted.index <= log.lastIndex(), 'apply past log');
    assert(hardState.commit <= log.lastIndex(), 'commit past the log being persisted');
    assert(
      snapshot === undefined ||
        (committedEntries[0]?.index ?? snapshot.index + 1) === snapshot.index + 1,
      'committed entries follow the snapshot',
    );
    const { early, late } = this.#splitMessages(raft.takeMessages());
    const ready: Ready = {
      softState: sameSoftState(softState, this.#previousSoftState) ? undefined : softState,
      hardState: sameHardState(hardState, this.#previousHardState) ? undefined : hardState,
      entries,
      earlyMessages: early,
      messages: late,
      committedEntries,
      snapshot,
      readStates: raft.takeReadStates(),
    };
    this.#previousSoftState = softState;
    this.#previousHardState = hardState;
    log.persisting(log.lastIndex());
    const appliedTo = Math.min(lastCommitted?.index ?? log.applied, log.committed);
    this.#outstanding = { appliedTo };
    return ready;
  }

  /**
   * Thesis §10.2.1: a leader may replicate entries before they are on its own disk, so that its
   * fsync and its followers' overlap. Its AppendEntries, Heartbeat and InstallSnapshot promise
   * nothing about its disk, provided their term was durable before this Ready: a leader elected
   * alone (one voter, learners listening) must not be heard in a term it could forget, or after a
   * crash it could lead that term again with other entries at the same indexes. Commit indexes
   * they carry are safe too: an entry is counted only once followers acknowledge it, which takes
   * a message of a Ready taken after the one whose persistence is under way.
   */
  #splitMessages(messages: Message[]): { early: Message[]; late: Message[] } {
    if (!this.#earlyMessages) return { early: [], late: messages };
    const durableTerm = this.#previousHardState.term;
    const early: Message[] = [];
    const late: Message[] = [];
    for (const message of messages) {
      const replication =
        message.type === 'AppendEntries' ||
        message.type === 'Heartbeat' ||
        message.type === 'InstallSnapshot';
      (replication && message.term === durableTerm ? early : late).push(message);
    }
    return { early, late };
  }

  /** The host persisted, sent and applied everything in the last Ready. */
  advance(): void {
    const outstanding = this.#outstanding;
    assert(outstanding !== undefined, 'advance() without a ready()');
    const log = this.#raft.log;
    log.persisted();
    // A snapshot restored meanwhile moved applied past what this Ready handed out.
    if (outstanding.appliedTo > log.applied) log.appliedTo(outstanding.appliedTo);
    this.#outstanding = undefined;
    this.#raft.assertInvariants();
  }

  status(): RaftStatus {
    const raft = this.#raft;
    return {
      id: raft.id,
      role: raft.role,
      term: raft.term,
      leader: raft.leader,
      commitIndex: raft.log.committed,
      appliedIndex: raft.log.applied,
      lastIndex: raft.log.lastIndex(),
      snapshotIndex: raft.log.snapshotIndex(),
      voters: raft.confState().voters,
      learners: raft.confState().learners,
    };
  }

  #softState(): SoftState {
    return { role: this.#raft.role, leader: this.#raft.leader };
  }

  #hardState(): HardState {
    return { term: this.#raft.term, vote: this.#raft.vote, commit: this.#raft.log.committed };
  }
}

function validateOptions(options: RawNodeOptions): void {
  const { id, peers } = options;
  const learners = options.learners ?? [];
  const members = [...peers, ...learners];
  assert(isPositiveInteger(id), `node id must be a positive integer, got ${id}`);
  assert(members.every(isPositiveInteger), 'peer ids must be positive integers');
  assert(new Set(members).size === members.length, 'peer ids must be distinct');
  assert(
    members.length === 0 || members.includes(id),
    `peers must include this node's own id ${id} (or be empty, for a node that joins)`,
  );
  assert(members.length === 0 || peers.length > 0, 'a bootstrap configuration needs a voter');
  assert(isPositiveInteger(options.heartbeatTicks), 'heartbeatTicks must be a positive integer');
  assert(
    isPositiveInteger(options.electionTicks) && options.electionTicks > options.heartbeatTicks,
    'electionTicks must be an integer above heartbeatTicks',
  );
  for (const bound of [
    options.maxEntriesPerAppend,
    options.maxBytesPerAppend,
    options.maxPendingProposals,
    options.maxPendingProposalBytes,
    options.maxInflightAppends,
    options.maxCommittedEntriesPerReady,
    options.maxPendingReads,
    options.maxSnapshotChunkBytes,
    options.maxSnapshotChunksInFlight,
    options.maxSnapshotBytes,
  ]) {
    assert(bound === undefined || isPositiveInteger(bound), 'bounds must be positive integers');
  }
}

function isPositiveInteger(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 1;
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.role === b.role && a.leader === b.leader;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
