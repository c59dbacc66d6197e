import type { Entry, HardState, PersistedState } from '../raft/types.js';

/** One ready batch to make durable, as described on `Ready` in raft/types.ts. */
export interface StorageBatch {
  readonly hardState: HardState | undefined;
  /** Contiguous entries; any stored entry at or after `entries[0].index` is replaced. */
  readonly entries: readonly Entry[];
}

/**
 * Where a node keeps its Raft state. Implementations must make `save` durable before its promise
 * resolves (one fsync per batch), and `load` must return exactly what was saved before a crash.
 * At most one `save` is in flight at a time: the host waits for each before the next.
 */
export interface RaftStorage {
  load(): Promise<PersistedState>;
  save(batch: StorageBatch): Promise<void>;
  close(): Promise<void>;
}
