/**
 * RaftStorage kept in memory: for tests, the deterministic simulator and `--in-memory`. It checks
 * every batch exactly as the disk storages do, so a bug caught here is caught before it reaches disk.
 *
 * Simulating a crash: take `snapshot()` (everything acknowledged so far) and start the restarted
 * node on `new MemoryStorage(snapshot)`.
 */
import {
  type Entry,
  emptyHardState,
  type HardState,
  type PersistedState,
  type Snapshot,
} from '../raft/types.js';
import { assert } from '../util/assert.js';
import {
  assertBatchFits,
  assertCompactionFits,
  type StoredLog,
  verifyPersistedState,
} from './log-checks.js';
import type { RaftStorage, StorageBatch } from './storage.js';

const location = 'memory';

export class MemoryStorage implements RaftStorage {
  #hardState: HardState;
  /** The snapshot the log follows, if it was ever compacted or replaced by the leader's. */
  #snapshot: Snapshot | undefined;
  /** Invariant: #entries[i].index === snapshotIndex + i + 1. */
  #entries: Entry[];
  #saveInFlight = false;
  #closed = false;
  #savedBatchCount = 0;
  #nextSaveFailure: Error | undefined;

  /** Starts empty, or from `initial` (e.g. a snapshot of a crashed node's storage). */
  constructor(initial: PersistedState = { hardState: emptyHardState, entries: [] }) {
    verifyPersistedState(initial, location);
    this.#hardState = { ...initial.hardState };
    this.#snapshot = initial.snapshot === undefined ? undefined : copySnapshot(initial.snapshot);
    this.#entries = initial.entries.map(copyEntry);
  }

  async load(): Promise<PersistedState> {
    this.#assertUsable();
    return this.snapshot();
  }

  async save(batch: StorageBatch): Promise<void> {
    this.#assertUsable();
    assertBatchFits(batch, this.#storedLog());
    const snapshot = batch.snapshot === undefined ? undefined : copySnapshot(batch.snapshot);
    const hardState = batch.hardState === undefined ? undefined : { ...batch.hardState };
    const entries = batch.entries.map(copyEntry);
    await this.#writing(() => {
      if (snapshot !== undefined) {
        this.#snapshot = snapshot;
        this.#entries = [];
      }
      this.#write(hardState, entries);
    });
  }

  async compact(snapshot: Snapshot): Promise<void> {
    this.#assertUsable();
    assertCompactionFits(snapshot, this.#storedLog());
    const copy = copySnapshot(snapshot);
    await this.#writing(() => {
      this.#entries = this.#entries.slice(copy.index - this.#snapshotIndex);
      this.#snapshot = copy;
      assert(
        (this.#entries[0]?.index ?? copy.index + 1) === copy.index + 1,
        'the log after a compaction starts right after the snapshot',
      );
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  /** Test helper: a deep copy of everything saved so far. Works after close too. */
  snapshot(): PersistedState {
    const state = { hardState: { ...this.#hardState }, entries: this.#entries.map(copyEntry) };
    const snapshot = this.#snapshot;
    return snapshot === undefined ? state : { ...state, snapshot: copySnapshot(snapshot) };
  }

  /** Test helper: how many batches were saved, i.e. how many fsyncs a disk would have done. */
  get savedBatchCount(): number {
    return this.#savedBatchCount;
  }

  get lastIndex(): number {
    return this.#snapshotIndex + this.#entries.length;
  }

  /** The index of the snapshot the stored log follows (0 if none). */
  get snapshotIndex(): number {
    return this.#snapshotIndex;
  }

  /** Test helper: the next save writes nothing and rejects with `error`, like a failing disk. */
  failNextSave(error: Error): void {
    this.#nextSaveFailure = error;
  }

  get #snapshotIndex(): number {
    return this.#snapshot?.index ?? 0;
  }

  /** Runs `write` as a disk write would go: after a yield, and not at all when it fails. */
  async #writing(write: () => void): Promise<void> {
    this.#saveInFlight = true;
    try {
      // Yield once, as a disk write would, so that an overlapping save trips the assertion above.
      await Promise.resolve();
      const failure = this.#nextSaveFailure;
      if (failure !== undefined) {
        this.#nextSaveFailure = undefined;
        throw failure;
      }
      write();
      this.#savedBatchCount += 1;
    } finally {
      this.#saveInFlight = false;
    }
  }

  #write(hardState: HardState | undefined, entries: readonly Entry[]): void {
    if (hardState !== undefined) this.#hardState = hardState;
    const first = entries[0];
    if (first !== undefined) {
      // Drops the conflicting suffix, if any, then appends.
      this.#entries.length = first.index - 1 - this.#snapshotIndex;
      for (const entry of entries) this.#entries.push(entry);
    }
    assert(this.#hardState.commit <= this.lastIndex, 'commit beyond the log after a save');
  }

  #storedLog(): StoredLog {
    const entries = this.#entries;
    const snapshotIndex = this.#snapshotIndex;
    return {
      hardState: this.#hardState,
      snapshotIndex,
      snapshotTerm: this.#snapshot?.term ?? 0,
      lastIndex: this.lastIndex,
      termAt(index: number): number {
        const entry = entries[index - snapshotIndex - 1];
        assert(entry !== undefined, `no stored entry ${index}`);
        return entry.term;
      },
    };
  }

  #assertUsable(): void {
    assert(!this.#closed, 'MemoryStorage used after close');
    assert(!this.#saveInFlight, 'a save is in flight: the host must wait for it first');
  }
}

/** A copy that owns its bytes (not `data.slice()`: on a Buffer that is a view, not a copy). */
function copyEntry(entry: Entry): Entry {
  return {
    term: entry.term,
    index: entry.index,
    type: entry.type,
    data: new Uint8Array(entry.data),
  };
}

function copySnapshot(snapshot: Snapshot): Snapshot {
  return {
    index: snapshot.index,
    term: snapshot.term,
    confState: {
      voters: [...snapshot.confState.voters],
      learners: [...snapshot.confState.learners],
    },
    data: new Uint8Array(snapshot.data),
  };
}
