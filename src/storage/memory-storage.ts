/**
 * RaftStorage kept in memory: for tests, the deterministic simulator and `--in-memory`. It checks
 * every batch exactly as LmdbStorage does, so a bug caught here is caught before it reaches disk.
 *
 * Simulating a crash: take `snapshot()` (everything acknowledged so far) and start the restarted
 * node on `new MemoryStorage(snapshot)`.
 */
import { type Entry, emptyHardState, type HardState, type PersistedState } from '../raft/types.js';
import { assert } from '../util/assert.js';
import { assertBatchFits, type StoredLog, verifyPersistedState } from './log-checks.js';
import type { RaftStorage, StorageBatch } from './storage.js';

const location = 'memory';

export class MemoryStorage implements RaftStorage {
  #hardState: HardState;
  /** Invariant: #entries[i].index === i + 1. */
  #entries: Entry[];
  #saveInFlight = false;
  #closed = false;
  #savedBatchCount = 0;
  #nextSaveFailure: Error | undefined;

  /** Starts empty, or from `initial` (e.g. a snapshot of a crashed node's storage). */
  constructor(initial: PersistedState = { hardState: emptyHardState, entries: [] }) {
    verifyPersistedState(initial, location);
    this.#hardState = { ...initial.hardState };
    this.#entries = initial.entries.map(copyEntry);
  }

  async load(): Promise<PersistedState> {
    this.#assertUsable();
    return this.snapshot();
  }

  async save(batch: StorageBatch): Promise<void> {
    this.#assertUsable();
    assertBatchFits(batch, this.#storedLog());
    const hardState = batch.hardState === undefined ? undefined : { ...batch.hardState };
    const entries = batch.entries.map(copyEntry);
    this.#saveInFlight = true;
    try {
      // Yield once, as a disk write would, so that an overlapping save trips the assertion above.
      await Promise.resolve();
      const failure = this.#nextSaveFailure;
      if (failure !== undefined) {
        this.#nextSaveFailure = undefined;
        throw failure;
      }
      this.#write(hardState, entries);
    } finally {
      this.#saveInFlight = false;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  /** Test helper: a deep copy of everything saved so far. Works after close too. */
  snapshot(): PersistedState {
    return { hardState: { ...this.#hardState }, entries: this.#entries.map(copyEntry) };
  }

  /** Test helper: how many batches were saved, i.e. how many fsyncs a disk would have done. */
  get savedBatchCount(): number {
    return this.#savedBatchCount;
  }

  get lastIndex(): number {
    return this.#entries.length;
  }

  /** Test helper: the next save writes nothing and rejects with `error`, like a failing disk. */
  failNextSave(error: Error): void {
    this.#nextSaveFailure = error;
  }

  #write(hardState: HardState | undefined, entries: readonly Entry[]): void {
    if (hardState !== undefined) this.#hardState = hardState;
    const first = entries[0];
    if (first !== undefined) {
      // Drops the conflicting suffix, if any, then appends.
      this.#entries.length = first.index - 1;
      for (const entry of entries) this.#entries.push(entry);
    }
    this.#savedBatchCount += 1;
    assert(this.#hardState.commit <= this.#entries.length, 'commit beyond the log after a save');
  }

  #storedLog(): StoredLog {
    const entries = this.#entries;
    return {
      hardState: this.#hardState,
      lastIndex: entries.length,
      termAt(index: number): number {
        const entry = entries[index - 1];
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
