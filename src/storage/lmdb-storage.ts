/**
 * RaftStorage on LMDB, with real fsync.
 *
 * On disk, in the data directory:
 * - `raft.mdb`: one LMDB environment (LMDB adds `raft.mdb-lock`, its reader table). It holds two
 *   named databases: `entries` (key: the entry's index as a number, which LMDB's ordered-binary
 *   key encoding keeps in numeric order; value: an entry record, see record-codec.ts) and `meta`
 *   (key `hardState`: the hard state record; key `snapshot`: the snapshot marker, naming the
 *   snapshot the stored log follows).
 * - `snapshots/`: snapshot files (snapshot-files.ts); the membership is in their metadata.
 * - `LOCK`: the pid of the lockd process that has the directory open (see data-dir-lock.ts).
 *
 * Durability: the environment is opened with `overlappingSync: false` and `noSync: false`, so
 * (per lmdb's README) a write's promise "will resolve once data is written and flushed to disk",
 * i.e. after LMDB's fdatasync of the commit. Each save is one transaction (hard state, truncation
 * of a conflicting suffix and new entries together), so one fsync per batch.
 *
 * Snapshots: the snapshot file is written (and fsynced) first, then one transaction moves the
 * marker and deletes the entries the snapshot covers (or, for a snapshot from the leader, the whole
 * log). A crash in between leaves a snapshot file newer than the marker: open() finishes that
 * transaction, keeping the stored entries after the snapshot only if the entry at its index has
 * its term (a compaction), dropping them all otherwise (the leader's snapshot replaced the log).
 * A marker with no snapshot file at its index, or a snapshot file that fails its checksum, is
 * corruption: reported, never skipped (skipping would roll lock state back).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Database, open, type RootDatabase } from 'lmdb';
import {
  type Entry,
  emptyHardState,
  type HardState,
  noNode,
  type PersistedState,
  type Snapshot,
} from '../raft/types.js';
import { assert } from '../util/assert.js';
import { DataDirLock } from './data-dir-lock.js';
import {
  assertBatchFits,
  assertCompactionFits,
  StorageCorruptError,
  type StoredLog,
  verifyPersistedState,
} from './log-checks.js';
import {
  decodeEntry,
  decodeHardState,
  decodeSnapshotMarker,
  encodeEntry,
  encodeHardState,
  encodeSnapshotMarker,
  type SnapshotMarker,
} from './record-codec.js';
import {
  readLatestSnapshot,
  type SnapshotRecord,
  snapshotFromRecord,
  writeSnapshotFile,
} from './snapshot-files.js';
import type { RaftStorage, StorageBatch } from './storage.js';

/** Names of what LmdbStorage keeps in the data directory. Exported for tests and tooling. */
export const lmdbLayout = {
  environmentFileName: 'raft.mdb',
  entriesDatabaseName: 'entries',
  metaDatabaseName: 'meta',
  hardStateKey: 'hardState',
  snapshotMarkerKey: 'snapshot',
} as const;

const noSnapshot: SnapshotMarker = { index: 0, term: 0 };

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
  /** The snapshot the stored log follows (its file is on disk), if any. */
  #snapshot: Snapshot | undefined;
  #lastIndex: number;
  #saveInFlight = false;
  #closed = false;

  private constructor(options: {
    dataDir: string;
    databases: Databases;
    lock: DataDirLock;
    hardState: HardState;
    snapshot: Snapshot | undefined;
    lastIndex: number;
  }) {
    this.dataDir = options.dataDir;
    this.#databases = options.databases;
    this.#lock = options.lock;
    this.#hardState = options.hardState;
    this.#snapshot = options.snapshot;
    this.#lastIndex = options.lastIndex;
  }

  /**
   * Opens (creating if missing) the storage in `dataDir`, finishing a snapshot that a crash
   * interrupted. Throws DataDirInUseError when another process has it open, and
   * StorageCorruptError when the hard state or the snapshot cannot be read.
   */
  static async open(dataDir: string): Promise<LmdbStorage> {
    await mkdir(dataDir, { recursive: true });
    const lock = DataDirLock.acquire(dataDir);
    let databases: Databases | undefined;
    try {
      databases = openLmdbDatabases(dataDir);
      const snapshot = await reconcileSnapshot(databases, dataDir);
      const hardState = readHardState(databases, dataDir);
      const lastIndex = Math.max(readLastIndex(databases, dataDir), snapshot?.index ?? 0);
      return new LmdbStorage({ dataDir, databases, lock, hardState, snapshot, lastIndex });
    } catch (error) {
      await databases?.root.close();
      lock.release();
      throw error;
    }
  }

  /** Reads and verifies the snapshot and the log after it. Throws StorageCorruptError. */
  async load(): Promise<PersistedState> {
    this.#assertUsable();
    const hardState = readHardState(this.#databases, this.dataDir);
    const snapshotIndex = this.#snapshotMarker.index;
    const expectedCount = this.#lastIndex - snapshotIndex;
    for (const key of this.#databases.entries.getKeys({ limit: 1 })) {
      if (isIndex(key) && key <= snapshotIndex) {
        throw new StorageCorruptError(
          this.dataDir,
          `entry ${key} is stored though the snapshot at ${snapshotIndex} covers it`,
        );
      }
    }
    const entries: Entry[] = [];
    for (const { key, value } of this.#databases.entries.getRange({ start: snapshotIndex + 1 })) {
      // A bound: the keys are distinct indexes up to #lastIndex, so never more than that many.
      if (entries.length >= expectedCount) break;
      entries.push(decodeStoredEntry(key, value, this.dataDir));
    }
    const snapshot = this.#snapshot;
    const state: PersistedState =
      snapshot === undefined ? { hardState, entries } : { hardState, snapshot, entries };
    verifyPersistedState(state, this.dataDir);
    if (entries.length !== expectedCount) {
      throw new StorageCorruptError(
        this.dataDir,
        `the log holds ${entries.length} entries after the snapshot at ${snapshotIndex} but its last index is ${this.#lastIndex}`,
      );
    }
    return state;
  }

  async save(batch: StorageBatch): Promise<void> {
    this.#assertUsable();
    assertBatchFits(batch, this.#storedLog());
    const { snapshot } = batch;
    const hardStateRecord =
      batch.hardState === undefined ? undefined : encodeHardState(batch.hardState);
    const records = batch.entries.map((entry) => ({
      index: entry.index,
      bytes: encodeEntry(entry),
    }));
    const lastIndexBefore = this.#lastIndex;
    const firstReplaced =
      snapshot === undefined ? lastIndexBefore + 1 : this.#snapshotMarker.index + 1;
    const lastIndexAfter = records.at(-1)?.index ?? snapshot?.index ?? lastIndexBefore;
    const { root, entries, meta } = this.#databases;
    await this.#writing(async () => {
      // The snapshot is durable before the log it replaces goes (see the file comment).
      if (snapshot !== undefined) writeSnapshotFile(this.dataDir, snapshotRecord(snapshot));
      await root.transaction(() => {
        if (snapshot !== undefined) {
          meta.putSync(lmdbLayout.snapshotMarkerKey, encodeSnapshotMarker(snapshot));
          // The whole stored log goes: the leader's snapshot replaces it.
          for (let index = firstReplaced; index <= lastIndexBefore; index++)
            entries.removeSync(index);
        }
        if (hardStateRecord !== undefined) meta.putSync(lmdbLayout.hardStateKey, hardStateRecord);
        // The conflicting suffix beyond the batch goes; the rest of it is overwritten below.
        for (let index = lastIndexAfter + 1; index <= lastIndexBefore; index++) {
          entries.removeSync(index);
        }
        for (const record of records) entries.putSync(record.index, record.bytes);
      });
    });
    if (snapshot !== undefined) this.#snapshot = snapshot;
    if (batch.hardState !== undefined) this.#hardState = { ...batch.hardState };
    this.#lastIndex = lastIndexAfter;
  }

  async compact(snapshot: Snapshot): Promise<void> {
    this.#assertUsable();
    assertCompactionFits(snapshot, this.#storedLog());
    const firstCovered = this.#snapshotMarker.index + 1;
    const { root, entries, meta } = this.#databases;
    await this.#writing(async () => {
      writeSnapshotFile(this.dataDir, snapshotRecord(snapshot));
      await root.transaction(() => {
        meta.putSync(lmdbLayout.snapshotMarkerKey, encodeSnapshotMarker(snapshot));
        for (let index = firstCovered; index <= snapshot.index; index++) entries.removeSync(index);
      });
    });
    this.#snapshot = snapshot;
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

  get #snapshotMarker(): SnapshotMarker {
    return this.#snapshot ?? noSnapshot;
  }

  /** Runs one write; at most one is in flight. Durable when it resolves. */
  async #writing(write: () => Promise<void>): Promise<void> {
    this.#saveInFlight = true;
    try {
      await write();
      // Already true with overlappingSync off; awaited anyway so durability never rests on one flag.
      await this.#databases.root.flushed;
    } finally {
      this.#saveInFlight = false;
    }
  }

  #storedLog(): StoredLog {
    const { entries } = this.#databases;
    const dataDir = this.dataDir;
    return {
      hardState: this.#hardState,
      snapshotIndex: this.#snapshotMarker.index,
      snapshotTerm: this.#snapshotMarker.term,
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

/** What a snapshot file holds: the membership goes in its metadata. */
function snapshotRecord(snapshot: Snapshot): SnapshotRecord {
  return {
    index: snapshot.index,
    term: snapshot.term,
    metadata: { confState: snapshot.confState },
    data: snapshot.data,
  };
}

/**
 * The newest snapshot, checked against the marker; finishes the transaction that a crash
 * interrupted after the snapshot file was written (see the file comment).
 */
async function reconcileSnapshot(
  databases: Databases,
  dataDir: string,
): Promise<Snapshot | undefined> {
  const marker = readSnapshotMarker(databases, dataDir);
  const record = readLatestSnapshot(dataDir);
  const snapshot = record === undefined ? undefined : snapshotFromRecord(record, dataDir);
  if (marker !== undefined && (snapshot === undefined || snapshot.index < marker.index)) {
    const found =
      snapshot === undefined ? 'no snapshot file' : `the newest snapshot file at ${snapshot.index}`;
    throw new StorageCorruptError(
      dataDir,
      `the log was compacted up to entry ${marker.index}, but there is ${found}`,
    );
  }
  if (snapshot === undefined) return undefined;
  if (marker !== undefined && marker.index === snapshot.index) {
    if (marker.term !== snapshot.term) {
      throw new StorageCorruptError(
        dataDir,
        `the snapshot at ${snapshot.index} has term ${snapshot.term}, the marker says ${marker.term}`,
      );
    }
    return snapshot;
  }
  await finishSnapshot(databases, dataDir, snapshot, marker ?? noSnapshot);
  return snapshot;
}

async function finishSnapshot(
  databases: Databases,
  dataDir: string,
  snapshot: Snapshot,
  marker: SnapshotMarker,
): Promise<void> {
  const { root, entries, meta } = databases;
  const bytesAt = entries.get(snapshot.index);
  const compaction =
    bytesAt !== undefined &&
    decodeStoredEntry(snapshot.index, bytesAt, dataDir).term === snapshot.term;
  const lastIndex = readLastIndex(databases, dataDir);
  const lastRemoved = compaction ? snapshot.index : lastIndex;
  // The hard state of the leader's term came in the same batch as its snapshot, and was lost with
  // it. Taking the snapshot's term is safe (any message of that term would have moved us to it);
  // no vote was cast in that term, since a vote leaves only once it is durable.
  const hardState = readHardState(databases, dataDir);
  const raisedHardState =
    hardState.term < snapshot.term
      ? { ...hardState, term: snapshot.term, vote: noNode }
      : undefined;
  await root.transaction(() => {
    meta.putSync(lmdbLayout.snapshotMarkerKey, encodeSnapshotMarker(snapshot));
    if (raisedHardState !== undefined) {
      meta.putSync(lmdbLayout.hardStateKey, encodeHardState(raisedHardState));
    }
    for (let index = marker.index + 1; index <= lastRemoved; index++) entries.removeSync(index);
  });
  await root.flushed;
}

function readSnapshotMarker(databases: Databases, dataDir: string): SnapshotMarker | undefined {
  const bytes = databases.meta.get(lmdbLayout.snapshotMarkerKey);
  if (bytes === undefined) return undefined;
  const decoded = decodeSnapshotMarker(bytes);
  if (!decoded.ok) throw new StorageCorruptError(dataDir, `snapshot marker: ${decoded.reason}`);
  return decoded.value;
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
