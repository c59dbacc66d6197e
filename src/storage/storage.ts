import type { Entry, HardState, PersistedState, Snapshot } from '../raft/types.js';

/** One ready batch to make durable, as described on `Ready` in raft/types.ts. */
export interface StorageBatch {
  /**
   * A snapshot received from the leader (Ready.snapshot): it replaces the whole stored log, and is
   * durable before the batch's entries and hard state are.
   */
  readonly snapshot?: Snapshot | undefined;
  /**
   * A batch holding only a hard state that moves the commit index (the same term and vote, no
   * entries, no snapshot) need not be durable when `save` resolves, only once a later batch is:
   * Raft does not need the commit index to survive a crash (a restarted node learns it again from
   * the leader, or, alone, by committing the first entry of its new term), while term, vote and
   * entries must. Without this every write would cost two fsyncs on a node that commits it: one
   * for the entries, one for the commit index the next batch carries.
   */
  readonly hardState: HardState | undefined;
  /**
   * Contiguous entries; any stored entry at or after `entries[0].index` is replaced. With a
   * snapshot, they start right after it.
   */
  readonly entries: readonly Entry[];
}

/**
 * Where a node keeps its Raft state. Implementations must make `save` and `compact` durable before
 * their promise resolves (one fsync per batch; a batch that only moves the commit index is the
 * exception, see StorageBatch.hardState), and `load` must return exactly what was saved
 * before a crash: the latest snapshot, if any, and the log after it. At most one `save` or
 * `compact` is in flight at a time: the host waits for each before the next.
 */
export interface RaftStorage {
  load(): Promise<PersistedState>;
  save(batch: StorageBatch): Promise<void>;
  /**
   * Keeps the host's own snapshot (from RawNode.compact) durably, then deletes the stored entries
   * it covers (up to and including `snapshot.index`, which must be committed and stored). A crash
   * in between loses nothing: the next load returns the snapshot and the entries after it.
   */
  compact(snapshot: Snapshot): Promise<void>;
  close(): Promise<void>;
}

/**
 * A batch with nothing but a hard state whose term and vote are those `stored`: it only moves the
 * commit index, and need not be durable at once (see StorageBatch.hardState).
 */
export function movesOnlyCommit(batch: StorageBatch, stored: HardState): boolean {
  const { hardState } = batch;
  return (
    batch.snapshot === undefined &&
    batch.entries.length === 0 &&
    hardState !== undefined &&
    hardState.term === stored.term &&
    hardState.vote === stored.vote
  );
}
