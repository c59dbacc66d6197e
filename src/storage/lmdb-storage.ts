/**
 * RaftStorage on LMDB, with real fsync.
 *
 * On disk, in the data directory:
 * - `raft.mdb`: one LMDB environment (LMDB adds `raft.mdb-lock`, its reader table). It holds two
 *   named databases: `entries` (key: the entry's index as a number, which LMDB's ordered-binary
 *   key encoding keeps in numeric order; value: an entry record, see record-codec.ts) and `meta`
 *   (key `hardState`: the hard state record).
 * - `LOCK`: the pid of the lockd process that has the directory open (see data-dir-lock.ts).
 *
 * Durability: the environment is opened with `overlappingSync: false` and `noSync: false`, so
 * (per lmdb's README) a write's promise "will resolve once data is written and flushed to disk",
 * i.e. after LMDB's fdatasync of the commit. Each save is one transaction (hard state, truncation
 * of a conflicting suffix and new entries together), so one fsync per batch.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Database, open, type RootDatabase } from 'lmdb';
import { type Entry, emptyHardState, type HardState, type PersistedState } from '../raft/types.js';
import { assert } from '../util/assert.js';
import { DataDirLock } from './data-dir-lock.js';
import {
  assertBatchFits,
  StorageCorruptError,
  type StoredLog,
  verifyPersistedState,
} from './log-checks.js';
import { decodeEntry, decodeHardState, encodeEntry, encodeHardState } from './record-codec.js';
import type { RaftStorage, StorageBatch } from './storage.js';

/** Names of what LmdbStorage keeps in the data directory. Exported for tests and tooling. */
export const lmdbLayout = {
  environmentFileName: 'raft.mdb',
  entriesDatabaseName: 'entries',
  metaDatabaseName: 'meta',
  hardStateKey: 'hardState',
} as const;

interface Databases {
  readonly root: RootDatabase;
  readonly entries: Database<Uint8Array, number>;
  readonly meta: Database<Uint8Array, string>;
}

/** Opens the environment and its databases; the caller closes `root`. */
export function openLmdbDatabases(dataDir: string): Databases {
  const root: RootDatabase = open({
    path: join(dataDir, lmdbLayout.environmentFileName),
    noSubdir: true,
    overlappingSync: false,
    noSync: false,
    maxDbs: 4,
  });
  const entries = root.openDB<Uint8Array, number>({
    name: lmdbLayout.entriesDatabaseName,
    encoding: 'binary',
  });
  const meta = root.openDB<Uint8Array, string>({
    name: lmdbLayout.metaDatabaseName,
    encoding: 'binary',
  });
  return { root, entries, meta };
}

export class LmdbStorage implements RaftStorage {
  readonly dataDir: string;
  readonly #databases: Databases;
  readonly #lock: DataDirLock;
  /** What is on disk, kept in memory to check each batch before it is written. */
  #hardState: HardState;
  #lastIndex: number;
  #saveInFlight = false;
  #closed = false;

  private constructor(options: {
    dataDir: string;
    databases: Databases;
    lock: DataDirLock;
    hardState: HardState;
    lastIndex: number;
  }) {
    this.dataDir = options.dataDir;
    this.#databases = options.databases;
    this.#lock = options.lock;
    this.#hardState = options.hardState;
    this.#lastIndex = options.lastIndex;
  }

  /**
   * Opens (creating if missing) the storage in `dataDir`. Throws DataDirInUseError when another
   * process has it open, and StorageCorruptError when the hard state cannot be read.
   */
  static async open(dataDir: string): Promise<LmdbStorage> {
    await mkdir(dataDir, { recursive: true });
    const lock = DataDirLock.acquire(dataDir);
    let databases: Databases | undefined;
    try {
      databases = openLmdbDatabases(dataDir);
      const hardState = readHardState(databases, dataDir);
      const lastIndex = readLastIndex(databases, dataDir);
      return new LmdbStorage({ dataDir, databases, lock, hardState, lastIndex });
    } catch (error) {
      await databases?.root.close();
      lock.release();
      throw error;
    }
  }

  /** Reads and verifies the whole log. Throws StorageCorruptError naming the data directory. */
  async load(): Promise<PersistedState> {
    this.#assertUsable();
    const hardState = readHardState(this.#databases, this.dataDir);
    const entries: Entry[] = [];
    for (const { key, value } of this.#databases.entries.getRange()) {
      // A bound: the keys are distinct indexes up to #lastIndex, so never more than that many.
      if (entries.length >= this.#lastIndex) break;
      entries.push(decodeStoredEntry(key, value, this.dataDir));
    }
    const state = { hardState, entries };
    verifyPersistedState(state, this.dataDir);
    if (entries.length !== this.#lastIndex) {
      throw new StorageCorruptError(
        this.dataDir,
        `the log holds ${entries.length} entries but its last index is ${this.#lastIndex}`,
      );
    }
    return state;
  }

  async save(batch: StorageBatch): Promise<void> {
    this.#assertUsable();
    assertBatchFits(batch, this.#storedLog());
    const hardStateRecord =
      batch.hardState === undefined ? undefined : encodeHardState(batch.hardState);
    const records = batch.entries.map((entry) => ({
      index: entry.index,
      bytes: encodeEntry(entry),
    }));
    const lastIndexBefore = this.#lastIndex;
    const lastIndexAfter = records.at(-1)?.index ?? lastIndexBefore;
    const { root, entries, meta } = this.#databases;
    this.#saveInFlight = true;
    try {
      await root.transaction(() => {
        if (hardStateRecord !== undefined) meta.putSync(lmdbLayout.hardStateKey, hardStateRecord);
        // The conflicting suffix beyond the batch goes; the rest of it is overwritten below.
        for (let index = lastIndexAfter + 1; index <= lastIndexBefore; index++) {
          entries.removeSync(index);
        }
        for (const record of records) entries.putSync(record.index, record.bytes);
      });
      // Already true with overlappingSync off; awaited anyway so durability never rests on one flag.
      await root.flushed;
    } finally {
      this.#saveInFlight = false;
    }
    if (batch.hardState !== undefined) this.#hardState = { ...batch.hardState };
    this.#lastIndex = lastIndexAfter;
  }

  /** Flushes and closes, then gives up the data directory. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const { root } = this.#databases;
    try {
      await root.flushed;
      await root.close();
    } finally {
      this.#lock.release();
    }
  }

  #storedLog(): StoredLog {
    const { entries } = this.#databases;
    const dataDir = this.dataDir;
    return {
      hardState: this.#hardState,
      lastIndex: this.#lastIndex,
      termAt(index: number): number {
        const bytes = entries.get(index);
        if (bytes === undefined) {
          throw new StorageCorruptError(dataDir, `entry ${index} is missing`);
        }
        return decodeStoredEntry(index, bytes, dataDir).term;
      },
    };
  }

  #assertUsable(): void {
    assert(!this.#closed, `LmdbStorage for ${this.dataDir} used after close`);
    assert(!this.#saveInFlight, 'a save is in flight: the host must wait for it first');
  }
}

function readHardState(databases: Databases, dataDir: string): HardState {
  const bytes = databases.meta.get(lmdbLayout.hardStateKey);
  if (bytes === undefined) return emptyHardState;
  const decoded = decodeHardState(bytes);
  if (!decoded.ok) throw new StorageCorruptError(dataDir, `hard state: ${decoded.reason}`);
  return decoded.value;
}

function readLastIndex(databases: Databases, dataDir: string): number {
  for (const key of databases.entries.getKeys({ reverse: true, limit: 1 })) {
    if (!isIndex(key)) throw new StorageCorruptError(dataDir, `entry key ${String(key)}`);
    return key;
  }
  return 0;
}

function decodeStoredEntry(key: unknown, bytes: Uint8Array, dataDir: string): Entry {
  if (!isIndex(key)) {
    throw new StorageCorruptError(dataDir, `entry key ${String(key)} is not a log index`);
  }
  const decoded = decodeEntry(bytes);
  if (!decoded.ok) throw new StorageCorruptError(dataDir, `entry ${key}: ${decoded.reason}`);
  if (decoded.value.index !== key) {
    throw new StorageCorruptError(
      dataDir,
      `entry stored under index ${key} says it is entry ${decoded.value.index}`,
    );
  }
  return decoded.value;
}

function isIndex(key: unknown): key is number {
  return typeof key === 'number' && Number.isSafeInteger(key) && key >= 1;
}
