/**
 * RaftStorage on a write-ahead log of our own: one append and one fdatasync per batch. An LMDB
 * transaction that is flushed costs about 1 ms; an append and fdatasync about 0.2 ms, and every
 * lock write waits for one.
 *
 * On disk, in the data directory:
 * - `wal/<sequence, 16 digits>.wal`: the segments, numbered from 1 without gaps (wal-segments.ts).
 *   A segment holds records (framing in wal-records.ts): it starts with a header restating where
 *   the log stood (the snapshot's index and term, the last index and its term) and the hard state,
 *   followed by the writes of saves and compactions. A new segment begins once the current one
 *   would pass `segmentBytesMax` (64 MiB by default).
 * - `snapshots/`: snapshot files (snapshot-files.ts); the membership is in their metadata.
 * - `LOCK`: the pid of the lockd process that has the directory open (data-dir-lock.ts).
 *
 * Writes: a save encodes all its records (a snapshot marker when the leader sent a snapshot, the
 * hard state, the entries) into one buffer, appends it to the current segment at its end, then
 * fdatasyncs; it resolves only after. Old bytes are never rewritten: an entry at or below the last
 * index replaces the log from there on when replayed (a follower's conflicting suffix). A save
 * that only moves the commit index is appended without the fdatasync (see StorageBatch): the
 * next synced write makes it durable with everything before it (a new segment syncs the old one
 * first), and a machine crash before that loses only the tail a replay cuts off anyway.
 *
 * Snapshots: the snapshot file is written and fsynced first, then its marker is appended (for a
 * compaction, a marker dropping the entries up to its index; for the leader's snapshot, a marker
 * replacing the whole log, in the same write as the batch's hard state and entries). A crash in
 * between leaves a file without a marker: the old state loads, and the file is deleted
 * (wal-snapshots.ts). After a compaction, the oldest segments that hold no entry of the log any
 * more are deleted (never the current one), and the directory is fsynced. A compaction also begins
 * a new segment once the current one holds `compactionRollBytes`: otherwise a segment of 64 MiB
 * (a million entries) would be kept, and replayed on every restart, long after a snapshot covered
 * nearly all of it; this way a restart replays little more than the log after the snapshot.
 *
 * Open replays every segment (wal-replay.ts, which states the recovery rules): a write cut short
 * by a crash at the end of the last segment is cut off; anything else unreadable is a
 * StorageCorruptError naming the segment and offset. Load replays again and returns the entries;
 * in memory only the terms of the stored entries are kept (wal-log-state.ts).
 *
 * I/O errors: a failed write or fsync leaves the file in a state this process cannot know (after
 * a failed fsync, Linux may have dropped the dirty pages), so the storage refuses every later
 * call; the host stops, and the next open recovers from what is on disk.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { PersistedState, Snapshot } from '../raft/types.js';
import { assert } from '../util/assert.js';
import { DataDirLock } from './data-dir-lock.js';
import {
  assertBatchFits,
  assertCompactionFits,
  StorageCorruptError,
  verifyPersistedState,
} from './log-checks.js';
import { movesOnlyCommit, type RaftStorage, type StorageBatch } from './storage.js';
import { WalLogState } from './wal-log-state.js';
import { encodeWrite, MarkerCause, RecordKind, type WalRecord } from './wal-records.js';
import { replaySegments, type TornWrite } from './wal-replay.js';
import {
  deleteSegments,
  ensureWalDirectory,
  listSegments,
  removeTemporarySegments,
  SegmentWriter,
  truncateSegment,
  walDirectory,
} from './wal-segments.js';
import {
  hasSnapshotFiles,
  readMarkedSnapshot,
  removeUnmarkedSnapshots,
  writeSnapshot,
} from './wal-snapshots.js';

export const defaultSegmentBytesMax = 64 * 1024 * 1024;
/** About 80 000 entries of a lock command: a few tens of milliseconds to replay. */
export const defaultCompactionRollBytes = 4 * 1024 * 1024;

/** The file LmdbStorage keeps its log in: a directory holding it is LMDB's, not ours. */
const lmdbEnvironmentFileName = 'raft.mdb';

export interface WalStorageOptions {
  /** A new segment begins once the current one would pass this size (tests use tiny ones). */
  readonly segmentBytesMax?: number;
  /** A compaction begins a new segment when the current one holds this many bytes or more. */
  readonly compactionRollBytes?: number;
}

export class WalStorage implements RaftStorage {
  readonly dataDir: string;
  /** The write a crash cut short, found and cut off by open; undefined when there was none. */
  readonly tornWriteRecovered: TornWrite | undefined;
  readonly #walDir: string;
  readonly #lock: DataDirLock;
  readonly #segmentBytesMax: number;
  readonly #compactionRollBytes: number;
  /** What the segments hold, as a replay would find it (see wal-log-state.ts). */
  readonly #state: WalLogState;
  #segment: SegmentWriter;
  #ioInFlight = false;
  #closed = false;
  /** The I/O error that made the storage unusable, if any (see the file comment). */
  #failure: Error | undefined;

  private constructor(options: {
    dataDir: string;
    lock: DataDirLock;
    segmentBytesMax: number;
    compactionRollBytes: number;
    state: WalLogState;
    segment: SegmentWriter;
    tornWriteRecovered: TornWrite | undefined;
  }) {
    this.dataDir = options.dataDir;
    this.#walDir = walDirectory(options.dataDir);
    this.#lock = options.lock;
    this.#segmentBytesMax = options.segmentBytesMax;
    this.#compactionRollBytes = options.compactionRollBytes;
    this.#state = options.state;
    this.#segment = options.segment;
    this.tornWriteRecovered = options.tornWriteRecovered;
  }

  /**
   * Opens (creating if missing) the storage in `dataDir`, cutting off a write that a crash cut
   * short. Throws DataDirInUseError when another process has it open, and StorageCorruptError
   * when the log cannot be read back whole.
   */
  static async open(dataDir: string, options: WalStorageOptions = {}): Promise<WalStorage> {
    const segmentBytesMax = options.segmentBytesMax ?? defaultSegmentBytesMax;
    assert(segmentBytesMax >= 1, `segmentBytesMax ${segmentBytesMax}`);
    const compactionRollBytes = options.compactionRollBytes ?? defaultCompactionRollBytes;
    assert(compactionRollBytes >= 1, `compactionRollBytes ${compactionRollBytes}`);
    await mkdir(dataDir, { recursive: true });
    if (existsSync(join(dataDir, lmdbEnvironmentFileName))) {
      throw new Error(
        `${dataDir} holds an LMDB log (${lmdbEnvironmentFileName}): open it with LmdbStorage (--storage lmdb)`,
      );
    }
    const lock = DataDirLock.acquire(dataDir);
    try {
      const recovered = await recover(dataDir);
      return new WalStorage({ dataDir, lock, segmentBytesMax, compactionRollBytes, ...recovered });
    } catch (error) {
      lock.release();
      throw error;
    }
  }

  /** Replays the segments and reads the snapshot. Throws StorageCorruptError. */
  async load(): Promise<PersistedState> {
    this.#assertUsable();
    return this.#doingIo(async () => {
      const { state: replayed } = await replaySegments({
        walDir: this.#walDir,
        location: this.dataDir,
        sequences: await listSegments(this.#walDir, this.dataDir),
        collectEntries: true,
        tornWriteAllowed: false,
      });
      this.#assertMatchesMemory(replayed);
      return persistedStateOf(replayed, this.dataDir);
    });
  }

  async save(batch: StorageBatch): Promise<void> {
    this.#assertUsable();
    assertBatchFits(batch, this.#state.storedLog());
    const records = recordsOfBatch(batch);
    if (records.length === 0) return;
    // Encoded at once: the batch's entries are copied before the caller gets control back.
    const bytes = encodeWrite(records);
    const { snapshot } = batch;
    const sync = !movesOnlyCommit(batch, this.#state.hardState);
    await this.#doingIo(async () => {
      // The snapshot is durable before the marker that names it (see the file comment).
      if (snapshot !== undefined) writeSnapshot(this.dataDir, snapshot);
      await this.#append(records, bytes, sync);
    });
  }

  async compact(snapshot: Snapshot): Promise<void> {
    this.#assertUsable();
    assertCompactionFits(snapshot, this.#state.storedLog());
    await this.#doingIo(async () => {
      writeSnapshot(this.dataDir, snapshot);
      const records = [markerRecord(snapshot, MarkerCause.compaction)];
      await this.#append(records, encodeWrite(records), true);
      if (this.#segment.sizeBytes >= this.#compactionRollBytes) await this.#beginNextSegment();
      await this.#deleteOldSegments();
    });
  }

  /** Closes the current segment, then gives up the data directory. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#segment.close();
    } finally {
      this.#lock.release();
    }
  }

  /** The sequence number of the segment being appended to. For tests and tooling. */
  get currentSegment(): number {
    return this.#segment.sequence;
  }

  /** Appends one write to the current segment (beginning a new one first if it is full). */
  async #append(records: readonly WalRecord[], bytes: Uint8Array, sync: boolean): Promise<void> {
    const segment = this.#segment;
    const holdsMoreThanHead = segment.sizeBytes > segment.headBytes;
    if (holdsMoreThanHead && segment.sizeBytes + bytes.length > this.#segmentBytesMax) {
      await this.#beginNextSegment();
    }
    await this.#segment.append(bytes, sync);
    applyWritten(this.#state, records);
  }

  /** Starts a new segment whose head restates the log, and makes it the current one. */
  async #beginNextSegment(): Promise<void> {
    // A commit-only append left unsynced must not stay behind in a segment no later sync covers.
    this.#segment.syncIfUnsynced();
    const head = headRecords(this.#state);
    const next = await SegmentWriter.create(
      this.#walDir,
      this.#state.currentSequence + 1,
      encodeWrite(head),
    );
    applyWritten(this.#state, head);
    const previous = this.#segment;
    this.#segment = next;
    await previous.close();
  }

  async #deleteOldSegments(): Promise<void> {
    const deletable = this.#state.deletableSegments();
    if (deletable.length === 0) return;
    await deleteSegments(this.#walDir, deletable);
    this.#state.forgetOldestSegments(deletable.length);
  }

  /** Runs one I/O operation; at most one is in flight, and a failure disables the storage. */
  async #doingIo<T>(operation: () => Promise<T>): Promise<T> {
    this.#ioInFlight = true;
    try {
      return await operation();
    } catch (error) {
      if (!(error instanceof StorageCorruptError)) {
        this.#failure = error instanceof Error ? error : new Error(String(error));
      }
      throw error;
    } finally {
      this.#ioInFlight = false;
    }
  }

  /** The replayed log must be what memory says was written: a paired check of every write. */
  #assertMatchesMemory(replayed: WalLogState): void {
    const memory = this.#state;
    const same =
      replayed.lastIndex === memory.lastIndex &&
      replayed.snapshotIndex === memory.snapshotIndex &&
      replayed.snapshotTerm === memory.snapshotTerm &&
      replayed.hardState.term === memory.hardState.term &&
      replayed.hardState.vote === memory.hardState.vote &&
      replayed.hardState.commit === memory.hardState.commit;
    if (!same) {
      throw new StorageCorruptError(
        this.dataDir,
        `the log read back (snapshot ${replayed.snapshotIndex}, last index ${replayed.lastIndex}, ` +
          `commit ${replayed.hardState.commit}) differs from the one written (snapshot ` +
          `${memory.snapshotIndex}, last index ${memory.lastIndex}, commit ${memory.hardState.commit})`,
      );
    }
  }

  #assertUsable(): void {
    assert(!this.#closed, `WalStorage for ${this.dataDir} used after close`);
    assert(!this.#ioInFlight, 'a save is in flight: the host must wait for it first');
    if (this.#failure !== undefined) {
      throw new Error(
        `WalStorage for ${this.dataDir} failed earlier and must be reopened: ${this.#failure.message}`,
        { cause: this.#failure },
      );
    }
  }
}

/** What open finds: the log state (without entries), and the segment to append to. */
async function recover(dataDir: string): Promise<{
  state: WalLogState;
  segment: SegmentWriter;
  tornWriteRecovered: TornWrite | undefined;
}> {
  const walDir = walDirectory(dataDir);
  await ensureWalDirectory(dataDir);
  await removeTemporarySegments(walDir);
  let sequences = await listSegments(walDir, dataDir);
  if (sequences.length === 0) {
    await createFirstSegment(dataDir);
    sequences = [1];
  }
  const replay = await replaySegments({
    walDir,
    location: dataDir,
    sequences,
    collectEntries: true,
    tornWriteAllowed: true,
  });
  const { state, lastSegment, tornWrite } = replay;
  // Read and verified before the torn write is cut off: a corrupt directory is left as it was.
  persistedStateOf(state, dataDir);
  state.releaseEntries();
  if (tornWrite !== undefined) {
    await truncateSegment(walDir, tornWrite.sequence, tornWrite.offsetBytes);
  }
  removeUnmarkedSnapshots(dataDir, state.snapshotIndex);
  const segment = await SegmentWriter.openForAppend(walDir, state.currentSequence, lastSegment);
  return { state, segment, tornWriteRecovered: tornWrite };
}

/** A new log: segment 1 with the empty state as its head. */
async function createFirstSegment(dataDir: string): Promise<void> {
  // Segment 1 is created before any snapshot can be written, so a snapshot without any segment
  // means the segments were lost.
  if (hasSnapshotFiles(dataDir)) {
    throw new StorageCorruptError(dataDir, 'there are snapshot files but no log segments');
  }
  const head = headRecords(new WalLogState({ collectEntries: false }));
  const segment = await SegmentWriter.create(walDirectory(dataDir), 1, encodeWrite(head));
  await segment.close();
}

/** The head of a new segment: a header restating the log, and the hard state. */
function headRecords(state: WalLogState): WalRecord[] {
  return [
    { kind: RecordKind.segmentHeader, header: state.headerForNextSegment() },
    { kind: RecordKind.hardState, hardState: state.hardState },
  ];
}

/** A batch's records, in replay order: the leader's snapshot, the hard state, then the entries. */
function recordsOfBatch(batch: StorageBatch): WalRecord[] {
  const records: WalRecord[] = [];
  if (batch.snapshot !== undefined) {
    records.push(markerRecord(batch.snapshot, MarkerCause.leaderSnapshot));
  }
  if (batch.hardState !== undefined) {
    records.push({ kind: RecordKind.hardState, hardState: { ...batch.hardState } });
  }
  for (const entry of batch.entries) records.push({ kind: RecordKind.entry, entry });
  return records;
}

function markerRecord(snapshot: Snapshot, cause: MarkerCause): WalRecord {
  return {
    kind: RecordKind.snapshotMarker,
    marker: { index: snapshot.index, term: snapshot.term, cause },
  };
}

/** Applies records just written to the state in memory, as a replay would. */
function applyWritten(state: WalLogState, records: readonly WalRecord[]): void {
  for (const record of records) {
    const problem = state.apply(record);
    assert(problem === undefined, `a record written does not replay: ${problem}`);
  }
}

/** The replayed log with its snapshot read from its file. Throws StorageCorruptError. */
function persistedStateOf(state: WalLogState, dataDir: string): PersistedState {
  const snapshot = readMarkedSnapshot(dataDir, {
    index: state.snapshotIndex,
    term: state.snapshotTerm,
  });
  const persisted: PersistedState = {
    hardState: { ...state.hardState },
    entries: state.entries,
    ...(snapshot === undefined ? {} : { snapshot }),
  };
  verifyPersistedState(persisted, dataDir);
  return persisted;
}
