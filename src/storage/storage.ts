import type { Entry, HardState, PersistedState, Snapshot } from '../raft/types.js';

/** One ready batch to make durable, as described on `Ready` in raft/types.ts. */
export interface StorageBatch {
  /**
   * A snapshot received from the leader (Ready.snapshot): it replaces the whole stored log, and is
   * durable before the batch's entries and hard state are.
   */
  readonly snapshot?: Snapshot | undefined;
  readonly hardState: HardState | undefined;
  /**
   * Contiguous entries; any stored entry at or after `entries[0].index` is replaced. With a
   * snapshot, they start right after it.
   */
  readonly entries: readonly Entry[];
}

/**
 * Where a node keeps its Raft state. Implementations must make `save` and `compact` durable before
 * their promise resolves (one fsync per batch), and `load` must return exactly what was saved
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
