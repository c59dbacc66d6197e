/**
 * What the HTTP layer needs from the node (the contract between api/ and node/). Writes resolve
 * only once the change is committed and applied. Failures are thrown as LockdError
 * (src/errors.ts), e.g. LOCKD_ERR_NO_LEADER. Every duration is in milliseconds; every instant is
 * an ISO 8601 UTC string as stamped by the leader that proposed the change.
 */
import type { CancelSignal } from '../util/cancellation.js';

export type LockMode = 'exclusive' | 'shared';

/** One holder of a lock. `owner` is null for an anonymous holder (the seed's plain POST). */
export interface HolderView {
  readonly owner: string | null;
  /** The fencing token: the Raft index of the entry that granted this hold. */
  readonly token: number;
  readonly acquiredAt: string;
  /** null when the hold has no lease (held until released, as in the seed). */
  readonly ttlMs: number | null;
  readonly expiresAt: string | null;
}

/** A client waiting for a lock on the leader, in queue order (position 1 is next). */
export interface WaiterView {
  readonly owner: string | null;
  readonly position: number;
  readonly waitedMs: number;
}

export interface LockView {
  readonly name: string;
  readonly mode: LockMode;
  /** For shared locks: the most holders at once (null = the server's maximum). */
  readonly limit: number | null;
  readonly holders: readonly HolderView[];
  readonly waiters: readonly WaiterView[];
}

export interface AcquireRequest {
  readonly name: string;
  readonly owner: string | null;
  readonly ttlMs: number | null;
  /** How long to queue for the lock when it is held; 0 = answer conflict at once (the seed). */
  readonly waitMs: number;
  readonly mode: LockMode;
  /** Shared mode only: the most holders at once; null = the server's maximum. */
  readonly limit: number | null;
  /** Fires when the client went away: a queued waiter is removed; a grant that raced it is released. */
  readonly signal: CancelSignal;
}

/** The 200 body of an acquire or refresh (the api adds nothing but JSON encoding). */
export interface Grant {
  readonly name: string;
  readonly owner: string | null;
  readonly token: number;
  readonly mode: LockMode;
  readonly ttlMs: number | null;
  readonly acquiredAt: string;
  readonly expiresAt: string | null;
}

export type AcquireResult =
  | { readonly outcome: 'acquired'; readonly grant: Grant }
  /** Held by others (and the wait, if any, elapsed). `holders` lists only the non-anonymous. */
  | { readonly outcome: 'conflict'; readonly holders: readonly HolderView[] };

export interface ReleaseRequest {
  readonly name: string;
  /** When set, release only this owner's hold. When null: only an anonymous hold. */
  readonly owner: string | null;
  /** Release whatever holds the lock (every holder), whoever asks: the seed's "id override". */
  readonly force: boolean;
}

export type ReleaseResult =
  | { readonly outcome: 'released'; readonly name: string; readonly token: number }
  | { readonly outcome: 'not-locked' }
  /** Held, but not by the given owner (or, for an anonymous release, held by a named owner). */
  | { readonly outcome: 'not-owner'; readonly holders: readonly HolderView[] };

export interface RefreshRequest {
  readonly name: string;
  readonly owner: string;
  /** The new lease; null keeps the current ttlMs. */
  readonly ttlMs: number | null;
}

export type RefreshResult =
  | { readonly outcome: 'refreshed'; readonly grant: Grant }
  | { readonly outcome: 'not-locked' }
  | { readonly outcome: 'not-owner'; readonly holders: readonly HolderView[] };

export interface ListRequest {
  readonly prefix: string;
  /** Names strictly after this one (the `next` of the previous page); '' = from the start. */
  readonly after: string;
  readonly limit: number;
}

export interface LockSummary {
  readonly name: string;
  readonly mode: LockMode;
  readonly holders: readonly HolderView[];
  readonly waiters: number;
}

export interface ListResult {
  readonly locks: readonly LockSummary[];
  /** Pass as `after` for the next page; null when this page is the last. */
  readonly next: string | null;
}

export type LockEventType = 'grant' | 'release' | 'expire' | 'refresh' | 'force-release';

export interface LockEvent {
  /**
   * `<raftIndex>-<n>`: the entry that caused it and its place among that entry's events. The same
   * on every node and across restarts; ordered by (raftIndex, n). Sent as the SSE `id`.
   */
  readonly id: string;
  readonly type: LockEventType;
  readonly name: string;
  readonly owner: string | null;
  readonly token: number;
  readonly index: number;
  readonly at: string;
}

export interface EventFilter {
  /** Exactly this lock, or every lock whose name starts with `prefix` ('' = all). */
  readonly name: string | null;
  readonly prefix: string;
}

export interface EventSubscription {
  /**
   * The retained events after `lastEventId` that match, oldest first; 'gap' when events after it
   * were already dropped from the bounded history (the client must resynchronise).
   */
  readonly replay: readonly LockEvent[] | 'gap';
  unsubscribe(): void;
}

export interface Limits {
  readonly maxLocks: number;
  readonly maxWaitersPerLock: number;
  readonly maxHoldersPerLock: number;
  readonly maxOwnerBytes: number;
  readonly maxTtlMs: number;
  readonly maxWaitMs: number;
}

export interface LockService {
  acquire(request: AcquireRequest): Promise<AcquireResult>;
  release(request: ReleaseRequest): Promise<ReleaseResult>;
  refresh(request: RefreshRequest): Promise<RefreshResult>;
  /** undefined when the lock is free. `stale` answers from local state without a quorum round. */
  describe(name: string, options: { readonly stale: boolean }): Promise<LockView | undefined>;
  list(request: ListRequest): Promise<ListResult>;
  /** Live events matching `filter` go to `onEvent` (synchronously, in order) until unsubscribed. */
  subscribe(
    filter: EventFilter,
    lastEventId: string | null,
    onEvent: (event: LockEvent) => void,
  ): EventSubscription;
  /**
   * The client address (`host:port`) of the leader when this node is not it, so that a write's
   * answer can say where writes go without a hop; null on the leader or when no leader is known.
   */
  leaderClientAddress(): string | null;
  readonly limits: Limits;
}
