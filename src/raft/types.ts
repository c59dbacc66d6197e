/**
 * The data types of the consensus core and the contract between it and its host.
 * Everything here is plain data: the host may encode it for disk or the wire as it likes.
 */

/** A node's id in the cluster. Positive integer; 0 means "none". */
export type NodeId = number;
export const noNode: NodeId = 0;

export type Role = 'follower' | 'candidate' | 'leader';

export const EntryType = {
  /** A command for the state machine, proposed by a client. */
  normal: 0,
  /** The empty entry a new leader appends at the start of its term (Raft §8). */
  noop: 1,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  /** The command bytes; empty for a noop. The core never looks inside. */
  readonly data: Uint8Array;
}

/** What must survive a crash: the current term, the vote cast in it, and the commit index. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

export const emptyHardState: HardState = { term: 0, vote: noNode, commit: 0 };

export interface RequestVote {
  readonly type: 'RequestVote';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
}

export interface RequestVoteResponse {
  readonly type: 'RequestVoteResponse';
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
   * On rejection: a hint for fast backtracking. The follower's last index when its log is too
   * short, or the first index of the conflicting term it holds at prevLogIndex.
   */
  readonly rejectHint: number;
}

export type Message = RequestVote | RequestVoteResponse | AppendEntries | AppendEntriesResponse;

/** Volatile state worth telling the host about when it changes. */
export interface SoftState {
  readonly role: Role;
  readonly leader: NodeId;
}

/**
 * One batch of work for the host. The I/O ordering contract:
 * 1. Persist `hardState` (if set) and `entries` durably (fsync) in one write. When
 *    `entries[0].index` is at or below the last persisted index, the persisted entries from that
 *    index onwards are discarded first (a follower's conflicting suffix).
 * 2. Only then send `messages`: a vote or an acknowledgement must never leave before what it
 *    promises is on disk.
 * 3. Then apply `committedEntries` to the state machine, in order. They are always durable.
 * 4. Then call `advance()`. No other `ready()` may be taken until then.
 */
export interface Ready {
  readonly softState: SoftState | undefined;
  readonly hardState: HardState | undefined;
  readonly entries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly committedEntries: readonly Entry[];
}

/** The durable state a node starts from, as loaded by the host from its storage. */
export interface PersistedState {
  readonly hardState: HardState;
  /** The whole log, contiguous, starting at index 1. */
  readonly entries: readonly Entry[];
}

/** A seeded source of randomness: the core has none of its own. */
export interface Random {
  /** An integer in [0, maxExclusive). */
  nextInt(maxExclusive: number): number;
}

export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | {
      readonly ok: false;
      readonly reason: 'not-leader' | 'too-many-pending';
      readonly leader: NodeId;
    };

export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly leader: NodeId;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
}
