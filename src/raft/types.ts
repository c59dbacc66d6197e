/**
 * The data types of the consensus core and the contract between it and its host.
 * Everything here is plain data: the host may encode it for disk or the wire as it likes.
 */

/** A node's id in the cluster. Positive integer; 0 means "none". */
export type NodeId = number;
export const noNode: NodeId = 0;

/**
 * A pre-candidate (PreVote, thesis §9.6) asks whether it could win an election before it raises
 * its term, so that a node that was cut off cannot disrupt the cluster when it returns.
 */
export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

export const EntryType = {
  /** A command for the state machine, proposed by a client. */
  normal: 0,
  /** The empty entry a new leader appends at the start of its term (Raft §8). */
  noop: 1,
  /**
   * A membership change (see ConfChange). Its data is encoded by the core: read it with
   * `decodeConfChangeEntry` from raft/configuration.ts. The core applies it itself, as soon as it
   * is in the log (thesis §4.1); the host needs to do nothing but may watch for it.
   */
  confChange: 2,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  /** The command bytes; empty for a noop. The core never looks inside a normal entry. */
  readonly data: Uint8Array;
}

/** What must survive a crash: the current term, the vote cast in it, and the commit index. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

export const emptyHardState: HardState = { term: 0, vote: noNode, commit: 0 };

/**
 * The membership of the cluster. Voters elect leaders and count for commitment; learners receive
 * the log but do not count, so that a new node can catch up before it is promoted (thesis §4.2.1).
 * Both lists are sorted and disjoint.
 */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/**
 * One single-server membership change (thesis §4.1). There is no direct "add voter": a node joins
 * as a learner, catches up, then is promoted, so that a new voter never stalls commitment.
 */
export type ConfChangeType = 'add-learner' | 'promote-learner' | 'remove-voter' | 'remove-learner';

export interface ConfChange {
  readonly type: ConfChangeType;
  readonly node: NodeId;
}

/** Where a snapshot stands in the log, and the membership as of that index. */
export interface SnapshotMetadata {
  /** The index of the last entry the snapshot covers. */
  readonly index: number;
  /** The term of that entry. */
  readonly term: number;
  readonly confState: ConfState;
}

/** The state machine as of `index`: the host's own encoding, opaque to the core. */
export interface Snapshot extends SnapshotMetadata {
  readonly data: Uint8Array;
}

export interface RequestVote {
  readonly type: 'RequestVote';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  /**
   * Set when the candidate campaigns because its leader handed leadership over (TimeoutNow): voters
   * then answer even though they heard from that leader within an election timeout.
   */
  readonly leadershipTransfer?: boolean;
}

export interface RequestVoteResponse {
  readonly type: 'RequestVoteResponse';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly granted: boolean;
}

/**
 * PreVote (thesis §9.6): "would you vote for me in `term`?" `term` is the sender's current term
 * plus one; neither side changes its term, vote or role for it.
 */
export interface PreVote {
  readonly type: 'PreVote';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
}

/** A granted pre-vote carries the term asked about; a refusal carries the voter's own term. */
export interface PreVoteResponse {
  readonly type: 'PreVoteResponse';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly granted: boolean;
}

export interface AppendEntries {
  readonly type: 'AppendEntries';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

export interface AppendEntriesResponse {
  readonly type: 'AppendEntriesResponse';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly success: boolean;
  /** On success: the index of the last entry the follower now matches with the leader. */
  readonly matchIndex: number;
  /**
   * On rejection: a hint for fast backtracking, the index the leader should send from next. Just
   * past the follower's last entry when its log is too short; else the first index of the
   * conflicting term it holds at prevLogIndex, so that a whole term is skipped in one round trip.
   */
  readonly rejectHint: number;
}

/**
 * A leader's quorum round for ReadIndex: "do you still follow me?" (The periodic heartbeat of §5.2
 * is an empty AppendEntries, which also carries the commit index.) `readRound` increases within a
 * term, and an answer to round r confirms every read registered before r was sent.
 */
export interface Heartbeat {
  readonly type: 'Heartbeat';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly readRound: number;
}

export interface HeartbeatResponse {
  readonly type: 'HeartbeatResponse';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly readRound: number;
}

/** A follower forwards its host's linearizable read to the leader it knows. */
export interface ReadIndex {
  readonly type: 'ReadIndex';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  /** The follower host's id for the read, echoed in the answer. */
  readonly requestId: number;
}

export interface ReadIndexResponse {
  readonly type: 'ReadIndexResponse';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly requestId: number;
  /** Whether the leader serves the read; if not, because it no longer leads or is overloaded. */
  readonly result: 'ok' | 'not-leader' | 'too-many-pending';
  /** When ok: the index the follower must have applied before it answers the read. */
  readonly index: number;
}

/** Leadership transfer (thesis §3.10): "start an election now", from a leader to a caught-up voter. */
export interface TimeoutNow {
  readonly type: 'TimeoutNow';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

/**
 * One chunk of a snapshot, for a follower whose next entry the leader has compacted away (§7).
 * Chunks of one snapshot are sent in order from offset 0; the follower keeps only a chunk that
 * starts where its data so far ends.
 */
export interface InstallSnapshot {
  readonly type: 'InstallSnapshot';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly snapshot: SnapshotMetadata;
  /** The byte offset of `data` in the snapshot's data. */
  readonly offset: number;
  /** The length of the snapshot's whole data. */
  readonly totalBytes: number;
  readonly data: Uint8Array;
  /** This is the last chunk: offset + data.length === totalBytes. */
  readonly done: boolean;
}

export interface InstallSnapshotResponse {
  readonly type: 'InstallSnapshotResponse';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  /** The snapshot this answers. */
  readonly snapshotIndex: number;
  /** How many bytes of it, from offset 0, the follower holds. */
  readonly receivedBytes: number;
  /** The follower's log now matches the leader's up to matchIndex: installed, or not needed. */
  readonly installed: boolean;
  readonly matchIndex: number;
}

export type Message =
  | RequestVote
  | RequestVoteResponse
  | PreVote
  | PreVoteResponse
  | AppendEntries
  | AppendEntriesResponse
  | Heartbeat
  | HeartbeatResponse
  | ReadIndex
  | ReadIndexResponse
  | TimeoutNow
  | InstallSnapshot
  | InstallSnapshotResponse;

/** Volatile state worth telling the host about when it changes. */
export interface SoftState {
  readonly role: Role;
  readonly leader: NodeId;
}

export type ReadFailure =
  /** No leader is known: retry later. */
  | 'no-leader'
  /** The leader changed (or this node stopped leading) before the read was confirmed: retry. */
  | 'leader-changed'
  /** The leader did not answer a forwarded read within an election timeout: retry. */
  | 'timeout'
  /** Too many reads wait already (see maxPendingReads): retry shortly. */
  | 'too-many-pending';

/**
 * The outcome of a `readIndex(requestId)`. When ok, the read is linearizable once the host's
 * state machine has applied `index` (the leader's commit index when the read arrived, confirmed by
 * a quorum after it arrived): the host answers it then, from its own state.
 */
export type ReadState =
  | { readonly requestId: number; readonly ok: true; readonly index: number }
  | { readonly requestId: number; readonly ok: false; readonly reason: ReadFailure };

/**
 * One batch of work for the host. The I/O ordering contract:
 * 0. Send `earlyMessages` at once: a leader's replication traffic, which promises nothing about
 *    this node's disk (empty unless RawNodeOptions.earlyMessages is set; see thesis §10.2.1).
 * 1. Persist, durably (fsync) and in one write:
 *    - `snapshot`, if set: it replaces the whole stored log. Discard every stored entry and keep
 *      the snapshot (with its metadata) in their place; the log now continues at snapshot.index+1.
 *    - `hardState`, if set;
 *    - `entries`: when `entries[0].index` is at or below the last stored index, the stored entries
 *      from that index onwards are discarded first (a follower's conflicting suffix).
 * 2. Only then send `messages`: a vote or an acknowledgement must never leave before what it
 *    promises is on disk.
 * 3. Then, if `snapshot` is set, restore the state machine from `snapshot.data`; then apply
 *    `committedEntries` to it, in order. They are durable by then, and follow the snapshot.
 *    Without a snapshot, those below `entries[0]` may be applied before step 1, provided the
 *    commit index (in `hardState`, or unchanged) is below `entries[0]` too: they are durable
 *    already, and the entry that committed them is durable on a quorum. (The core counts a
 *    leader's own log whole, durable or not; a commit index that reaches into `entries` may rest
 *    on them.)
 * 4. Then answer reads: each ok `readStates` entry once the applied index is at or above its index
 *    (perhaps only after later Readies), each failed one with a retryable error.
 * 5. Then call `advance()`. No other `ready()` may be taken until then.
 * tick(), step(), propose() and the other inputs may be called at any time between ready() and
 * advance(): what they produce goes into the next Ready.
 */
export interface Ready {
  readonly softState: SoftState | undefined;
  readonly hardState: HardState | undefined;
  readonly entries: readonly Entry[];
  /** Step 0: may leave before this Ready is persisted. */
  readonly earlyMessages: readonly Message[];
  /** Step 2: only after this Ready is persisted. */
  readonly messages: readonly Message[];
  readonly committedEntries: readonly Entry[];
  /** A snapshot received from the leader (this node had fallen behind its compacted log). */
  readonly snapshot: Snapshot | undefined;
  /** Answers to readIndex() calls, in the order they were confirmed. */
  readonly readStates: readonly ReadState[];
}

/** The durable state a node starts from, as loaded by the host from its storage. */
export interface PersistedState {
  readonly hardState: HardState;
  /**
   * The latest snapshot, if the log was ever compacted. The host restores its state machine from
   * it before it applies the committedEntries of the first Ready, which start after it.
   */
  readonly snapshot?: Snapshot;
  /** The log, contiguous, from snapshot.index + 1 (index 1 without a snapshot). */
  readonly entries: readonly Entry[];
}

/** A seeded source of randomness: the core has none of its own. */
export interface Random {
  /** An integer in [0, maxExclusive). */
  nextInt(maxExclusive: number): number;
}

export type ProposeRefusal =
  | 'not-leader'
  | 'too-many-pending'
  /** The leader is handing leadership over (transferLeadership): propose to the next one. */
  | 'transferring-leadership';

export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | {
      readonly ok: false;
      readonly reason: ProposeRefusal;
      readonly leader: NodeId;
    };

export type ConfChangeRefusal =
  | ProposeRefusal
  /**
   * The leader has not yet committed an entry of its own term. Until it has, a change could
   * overlap an uncommitted change of an earlier leader: the single-server bug (Ongaro, raft-dev,
   * 2015), fixed as the thesis' errata say. Retry once the term's noop has committed.
   */
  | 'leader-not-ready'
  /** An earlier change is not committed yet: one change at a time. */
  | 'change-pending'
  /** The change does not apply to the current membership (see `detail`). */
  | 'invalid-change'
  /** promote-learner: the learner is not within one append of the leader's log yet. */
  | 'learner-behind';

export type ConfChangeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | {
      readonly ok: false;
      readonly reason: ConfChangeRefusal;
      readonly leader: NodeId;
      readonly detail: string;
    };

export type ReadIndexResult =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly reason: 'no-leader' | 'too-many-pending';
      readonly leader: NodeId;
    };

export type TransferResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'not-leader' | 'not-a-voter'; readonly leader: NodeId };

/** How a leader sees one follower (see progress.ts). */
export interface PeerProgress {
  readonly id: NodeId;
  readonly isLearner: boolean;
  readonly state: 'probe' | 'replicate' | 'snapshot';
  readonly match: number;
  readonly next: number;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly leader: NodeId;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  /** The index of the latest snapshot the log starts after (0 if never compacted). */
  readonly snapshotIndex: number;
  /** The membership in effect: the latest in the log, committed or not (thesis §4.1). */
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}
