// What only WalStorage does: its files, a write torn by a crash cut off on open, damage reported
// with the segment and offset, segments that rotate and are deleted after a compaction, and a
// snapshot file whose marker never made it to the log.
import assert from 'node:assert/strict';
import fs, {
  appendFileSync,
  cpSync,
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { afterEach, describe, mock, test } from 'node:test';
import type { HardState, PersistedState } from '../../src/raft/types.js';
import { DataDirInUseError, lockFileName } from '../../src/storage/data-dir-lock.js';
import { StorageCorruptError } from '../../src/storage/log-checks.js';
import { snapshotDirectory, writeSnapshotFile } from '../../src/storage/snapshot-files.js';
import { movesOnlyCommit, type StorageBatch } from '../../src/storage/storage.js';
import { encodeWrite, RecordKind } from '../../src/storage/wal-records.js';
import { segmentFileName } from '../../src/storage/wal-segments.js';
import { WalStorage, type WalStorageOptions } from '../../src/storage/wal-storage.js';
import {
  entriesInTerm,
  makeTemporaryDirectory,
  normalEntry,
  payloadOf,
  runWriterUntilKilled,
  SeededRandom,
  snapshotAt,
} from './helpers.js';

const directories: { path: string; remove(): void }[] = [];
const opened: WalStorage[] = [];

afterEach(async () => {
  for (const storage of opened.splice(0)) await storage.close();
  for (const directory of directories.splice(0)) directory.remove();
});

function temporaryDirectory(): string {
  const directory = makeTemporaryDirectory();
  directories.push(directory);
  return directory.path;
}

async function openStorage(dataDir: string, options: WalStorageOptions = {}): Promise<WalStorage> {
  const storage = await WalStorage.open(dataDir, options);
  opened.push(storage);
  return storage;
}

const hardState = (term: number, vote: number, commit: number): HardState => ({
  term,
  vote,
  commit,
});

/** Every segment write goes to a new segment: one byte is less than any write. */
const segmentPerWrite: WalStorageOptions = { segmentBytesMax: 1 };

function segmentPath(dataDir: string, sequence: number): string {
  return join(dataDir, 'wal', segmentFileName(sequence));
}

function segmentNames(dataDir: string): string[] {
  return readdirSync(join(dataDir, 'wal')).sort();
}

function namesOf(sequences: readonly number[]): string[] {
  return sequences.map(segmentFileName);
}

function flipByte(path: string, offset: number): void {
  const bytes = readFileSync(path);
  bytes[offset] = (bytes[offset] ?? 0) ^ 0x20;
  writeFileSync(path, bytes);
}

async function assertOpenFindsCorruption(dataDir: string, detail: RegExp): Promise<void> {
  await assert.rejects(WalStorage.open(dataDir), (error: unknown) => {
    assert.ok(error instanceof StorageCorruptError, `expected StorageCorruptError: ${error}`);
    assert.ok(error.message.startsWith(`lockd storage in ${dataDir} is corrupt: `), error.message);
    assert.match(error.message, detail);
    return true;
  });
  assert.equal(existsSync(join(dataDir, lockFileName)), false, 'a failed open gives LOCK back');
}

/**
 * Three saves into one segment, closed again. Returns the state after each save and the
 * segment's size before and after each one (sizes[0] is the head alone).
 */
async function threeSaves(): Promise<{
  dataDir: string;
  states: PersistedState[];
  sizes: number[];
}> {
  const dataDir = temporaryDirectory();
  const storage = await openStorage(dataDir);
  const path = segmentPath(dataDir, 1);
  const sizes = [statSync(path).size];
  const states: PersistedState[] = [];
  const batches = [
    { hardState: hardState(1, 1, 0), entries: entriesInTerm(1, 2, 1) },
    { hardState: hardState(1, 1, 2), entries: entriesInTerm(3, 4, 1) },
    { hardState: hardState(1, 1, 4), entries: entriesInTerm(5, 7, 1) },
  ];
  for (const batch of batches) {
    await storage.save(batch);
    sizes.push(statSync(path).size);
    states.push({
      hardState: batch.hardState,
      entries: entriesInTerm(1, batch.entries.at(-1)?.index ?? 0, 1),
    });
  }
  await storage.close();
  return { dataDir, states, sizes };
}

/** A copy of `dataDir` to damage, so that one prepared directory serves several cases. */
function copyOf(dataDir: string): string {
  const copy = temporaryDirectory();
  cpSync(dataDir, copy, { recursive: true });
  return copy;
}

describe('WalStorage files', () => {
  test('open creates the data directory with wal/, segment 1 and LOCK inside', async () => {
    const dataDir = join(temporaryDirectory(), 'nested', 'data');
    const storage = await openStorage(dataDir);
    assert.deepEqual(segmentNames(dataDir), ['0000000000000001.wal']);
    assert.equal(readFileSync(join(dataDir, lockFileName), 'utf8'), `${process.pid}\n`);
    assert.equal(storage.currentSegment, 1);
    await storage.close();
    assert.equal(existsSync(join(dataDir, lockFileName)), false, 'close removes LOCK');
  });

  test('a second open while the first is open fails with DataDirInUseError', async () => {
    const dataDir = temporaryDirectory();
    await openStorage(dataDir);
    await assert.rejects(
      WalStorage.open(dataDir),
      (error: unknown) => error instanceof DataDirInUseError && error.holderPid === process.pid,
    );
  });

  test("a directory holding LMDB's raft.mdb is refused", async () => {
    const dataDir = temporaryDirectory();
    writeFileSync(join(dataDir, 'raft.mdb'), '');
    await assert.rejects(WalStorage.open(dataDir), /holds an LMDB log \(raft\.mdb\)/);
    assert.equal(existsSync(join(dataDir, 'wal')), false);
  });

  test('a save is one write: the segment grows by exactly the encoded batch', async () => {
    const { sizes } = await threeSaves();
    const thirdBatch = [
      { kind: RecordKind.hardState, hardState: hardState(1, 1, 4) },
      ...entriesInTerm(5, 7, 1).map((entry) => ({ kind: RecordKind.entry, entry })),
    ] as const;
    assert.equal((sizes[3] ?? 0) - (sizes[2] ?? 0), encodeWrite(thirdBatch).length);
  });
});

describe('WalStorage: which saves are fsynced', () => {
  /** Counts fdatasync calls while `body` runs (the ES module binding is updated to the mock). */
  async function countingSyncs(body: (syncs: () => number) => Promise<void>): Promise<void> {
    const counted = mock.method(fs, 'fdatasyncSync');
    syncBuiltinESMExports();
    try {
      await body(() => counted.mock.callCount());
    } finally {
      counted.mock.restore();
      syncBuiltinESMExports();
    }
  }

  test('a save that only moves the commit index is written without fdatasync', async () => {
    const dataDir = temporaryDirectory();
    const storage = await openStorage(dataDir);
    const path = segmentPath(dataDir, 1);
    await countingSyncs(async (syncs) => {
      await storage.save({ hardState: hardState(1, 1, 0), entries: entriesInTerm(1, 3, 1) });
      assert.equal(syncs(), 1, 'entries are synced');
      const sizeBefore = statSync(path).size;
      await storage.save({ hardState: hardState(1, 1, 3), entries: [] });
      assert.equal(syncs(), 1, 'a new commit index alone is not');
      assert.ok(statSync(path).size > sizeBefore, 'but it is written');
      await storage.save({ hardState: hardState(2, 0, 3), entries: [] });
      assert.equal(syncs(), 2, 'a new term is synced');
      await storage.save({ hardState: hardState(2, 3, 3), entries: [] });
      assert.equal(syncs(), 3, 'a new vote is synced');
      await storage.save({ hardState: undefined, entries: entriesInTerm(4, 4, 2) });
      assert.equal(syncs(), 4, 'entries without a hard state are synced');
    });
    await storage.close();
    opened.splice(opened.indexOf(storage), 1);
    // A process that restarts finds the unsynced commit index too: the page cache kept it.
    const reopened = await openStorage(dataDir);
    const loaded = await reopened.load();
    assert.deepEqual(loaded.hardState, hardState(2, 3, 3));
    assert.equal(loaded.entries.length, 4);
  });

  test('an unsynced commit-only append is synced before a new segment begins', async () => {
    const storage = await openStorage(temporaryDirectory(), segmentPerWrite);
    await countingSyncs(async (syncs) => {
      await storage.save({ hardState: hardState(1, 1, 0), entries: entriesInTerm(1, 2, 1) });
      await storage.save({ hardState: hardState(1, 1, 2), entries: [] });
      assert.equal(syncs(), 1, 'the commit-only append, alone in segment 2, is not synced');
      await storage.save({ hardState: undefined, entries: entriesInTerm(3, 3, 1) });
      assert.equal(syncs(), 3, 'segment 2 is synced before segment 3, then the entry in it');
    });
  });

  test('movesOnlyCommit: only a hard state with the stored term and vote, nothing else', () => {
    const stored = hardState(3, 2, 10);
    const only = (batch: StorageBatch): boolean => movesOnlyCommit(batch, stored);
    assert.equal(only({ hardState: hardState(3, 2, 11), entries: [] }), true);
    assert.equal(only({ hardState: hardState(3, 2, 10), entries: [] }), true);
    assert.equal(only({ hardState: hardState(4, 2, 11), entries: [] }), false);
    assert.equal(only({ hardState: hardState(3, 1, 11), entries: [] }), false);
    assert.equal(only({ hardState: undefined, entries: [] }), false);
    assert.equal(
      only({ hardState: hardState(3, 2, 11), entries: entriesInTerm(11, 11, 3) }),
      false,
    );
    assert.equal(
      only({ hardState: hardState(3, 2, 11), entries: [], snapshot: snapshotAt(11, 3) }),
      false,
    );
  });
});

describe('WalStorage: a write torn by a crash is cut off on open', () => {
  test('the last segment cut by k bytes reopens with the writes before the torn one', async () => {
    const { dataDir, states, sizes } = await threeSaves();
    const lastWriteBytes = (sizes[3] ?? 0) - (sizes[2] ?? 0);
    const lastEntryFrameBytes = encodeWrite([
      { kind: RecordKind.entry, entry: normalEntry(7, 1) },
    ]).length;
    // Inside the last frame, at a frame boundary (a write missing its last records), and
    // down to one byte of the write.
    const cuts = [1, 8, 9, 20, lastEntryFrameBytes, lastWriteBytes - 9, lastWriteBytes - 1];
    for (const cutBytes of cuts) {
      const copy = copyOf(dataDir);
      truncateSync(segmentPath(copy, 1), (sizes[3] ?? 0) - cutBytes);
      const storage = await openStorage(copy);
      assert.deepEqual(await storage.load(), states[1], `cut by ${cutBytes} bytes`);
      assert.deepEqual(storage.tornWriteRecovered, {
        sequence: 1,
        offsetBytes: sizes[2],
        droppedBytes: lastWriteBytes - cutBytes,
        reason: storage.tornWriteRecovered?.reason,
      });
      assert.equal(statSync(segmentPath(copy, 1)).size, sizes[2], 'the file is cut there');
      // The log goes on from there, and survives another reopen.
      await storage.save({ hardState: undefined, entries: [normalEntry(5, 1)] });
      await storage.close();
      const reopened = await openStorage(copy);
      assert.equal(reopened.tornWriteRecovered, undefined);
      assert.deepEqual((await reopened.load()).entries, entriesInTerm(1, 5, 1));
    }
  });

  test('garbage or zeros after the last write are cut off; every save is kept', async () => {
    const { dataDir, states, sizes } = await threeSaves();
    const random = new SeededRandom(0x7041);
    const tails = [
      new Uint8Array(1),
      new Uint8Array(4096),
      Uint8Array.from({ length: 3 }, () => random.nextInt(256)),
      Uint8Array.from({ length: 700 }, () => random.nextInt(256)),
    ];
    for (const [position, tail] of tails.entries()) {
      const copy = copyOf(dataDir);
      appendFileSync(segmentPath(copy, 1), tail);
      const storage = await openStorage(copy);
      assert.deepEqual(await storage.load(), states[2], `tail ${position}`);
      assert.equal(storage.tornWriteRecovered?.offsetBytes, sizes[3], `tail ${position}`);
      assert.equal(storage.tornWriteRecovered?.droppedBytes, tail.length, `tail ${position}`);
      assert.equal(statSync(segmentPath(copy, 1)).size, sizes[3]);
    }
  });

  test('a torn write in a segment that is not the last is corruption', async () => {
    const dataDir = temporaryDirectory();
    const storage = await openStorage(dataDir, segmentPerWrite);
    await storage.save({ hardState: hardState(1, 1, 0), entries: entriesInTerm(1, 2, 1) });
    await storage.save({ hardState: undefined, entries: entriesInTerm(3, 3, 1) });
    await storage.close();
    const size = statSync(segmentPath(dataDir, 1)).size;
    truncateSync(segmentPath(dataDir, 1), size - 3);
    await assertOpenFindsCorruption(
      dataDir,
      /segment 0000000000000001\.wal at offset \d+: a write left unfinished \(the frame at offset \d+: a frame of \d+ payload bytes runs 3 bytes past the end\), in a segment that is not the last/,
    );
  });
});

describe('WalStorage: damage is reported with the segment and offset', () => {
  test('a flipped byte in a record in the middle of the last segment', async () => {
    const { dataDir, sizes } = await threeSaves();
    // The second write starts with its hard state record; byte 12 is inside its payload.
    const recordOffset = sizes[1] ?? 0;
    flipByte(segmentPath(dataDir, 1), recordOffset + 12);
    await assertOpenFindsCorruption(
      dataDir,
      new RegExp(
        `segment 0000000000000001\\.wal at offset ${recordOffset}: checksum mismatch \\(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\\); ` +
          `an intact record follows at offset ${recordOffset + 33}, so this is damage, not a write cut short by a crash`,
      ),
    );
  });

  test('a flipped byte in a length field (the frame then seems to run past the end)', async () => {
    const { dataDir, sizes } = await threeSaves();
    const recordOffset = sizes[1] ?? 0;
    // The high byte of the length: the frame claims 32 MiB more than the file holds.
    const bytes = readFileSync(segmentPath(dataDir, 1));
    bytes[recordOffset] = 0x02;
    writeFileSync(segmentPath(dataDir, 1), bytes);
    await assertOpenFindsCorruption(
      dataDir,
      new RegExp(
        `segment 0000000000000001\\.wal at offset ${recordOffset}: a frame of \\d+ payload bytes runs \\d+ bytes past the end; ` +
          `an intact record follows at offset ${recordOffset + 33}`,
      ),
    );
  });

  test('a flipped byte in the head of a segment', async () => {
    const { dataDir } = await threeSaves();
    flipByte(segmentPath(dataDir, 1), 20);
    await assertOpenFindsCorruption(
      dataDir,
      /segment 0000000000000001\.wal at offset 0: checksum mismatch .*an intact record follows at offset 53/,
    );
  });

  test('a missing segment in the middle (a gap in the numbers)', async () => {
    const dataDir = temporaryDirectory();
    const storage = await openStorage(dataDir, segmentPerWrite);
    await storage.save({ hardState: hardState(1, 1, 0), entries: entriesInTerm(1, 1, 1) });
    await storage.save({ hardState: undefined, entries: entriesInTerm(2, 2, 1) });
    await storage.save({ hardState: undefined, entries: entriesInTerm(3, 3, 1) });
    await storage.close();
    rmSync(segmentPath(dataDir, 2));
    await assertOpenFindsCorruption(
      dataDir,
      /segment 0000000000000001\.wal is followed by 0000000000000003\.wal: 1 segment\(s\) are missing/,
    );
  });

  test('a missing first segment whose entries no snapshot covers', async () => {
    const dataDir = temporaryDirectory();
    const storage = await openStorage(dataDir, segmentPerWrite);
    await storage.save({ hardState: hardState(1, 1, 0), entries: entriesInTerm(1, 2, 1) });
    await storage.save({ hardState: undefined, entries: entriesInTerm(3, 3, 1) });
    await storage.close();
    rmSync(segmentPath(dataDir, 1));
    await assertOpenFindsCorruption(dataDir, /entries 1\.\.2 are in no segment/);
  });

  test('the snapshot file the log follows is missing', async () => {
    const dataDir = temporaryDirectory();
    const storage = await openStorage(dataDir);
    await storage.save({ hardState: hardState(2, 1, 8), entries: entriesInTerm(1, 10, 2) });
    await storage.compact(snapshotAt(3, 2));
    await storage.close();
    rmSync(snapshotDirectory(dataDir), { recursive: true });
    await assertOpenFindsCorruption(
      dataDir,
      /the log follows the snapshot at 3, but its file .*00000000000000000003\.snap is missing/,
    );
  });
});

describe('WalStorage: segments', () => {
  test('rotation: every write in its own segment, all of it kept across a reopen', async () => {
    const dataDir = temporaryDirectory();
    let storage = await openStorage(dataDir, segmentPerWrite);
    for (let index = 1; index <= 6; index++) {
      await storage.save({
        hardState: hardState(1, 1, index - 1),
        entries: [normalEntry(index, 1)],
      });
    }
    assert.deepEqual(segmentNames(dataDir), namesOf([1, 2, 3, 4, 5, 6]));
    const expected = { hardState: hardState(1, 1, 5), entries: entriesInTerm(1, 6, 1) };
    assert.deepEqual(await storage.load(), expected);
    await storage.close();
    storage = await openStorage(dataDir, segmentPerWrite);
    assert.deepEqual(await storage.load(), expected);
    assert.equal(storage.currentSegment, 6);
    // A hard state alone goes on in the current segment's successor, like any write.
    await storage.save({ hardState: hardState(2, 0, 6), entries: [] });
    assert.equal(storage.currentSegment, 7);
  });

  test('a compaction deletes the old segments whose entries it covers, never the current', async () => {
    const dataDir = temporaryDirectory();
    let storage = await openStorage(dataDir, segmentPerWrite);
    for (let index = 1; index <= 8; index++) {
      await storage.save({
        hardState: hardState(1, 1, index - 1),
        entries: [normalEntry(index, 1)],
      });
    }
    // The compaction marker goes into segment 9; segments 1..5 hold only entries up to 5.
    await storage.compact(snapshotAt(5, 1));
    assert.deepEqual(segmentNames(dataDir), namesOf([6, 7, 8, 9]));
    const expected: PersistedState = {
      hardState: hardState(1, 1, 7),
      snapshot: snapshotAt(5, 1),
      entries: entriesInTerm(6, 8, 1),
    };
    assert.deepEqual(await storage.load(), expected);
    await storage.close();
    // Segment 6's header says the log ran to 5 when it began; the marker in 9 covers that.
    storage = await openStorage(dataDir, segmentPerWrite);
    assert.deepEqual(await storage.load(), expected);
    await storage.compact(snapshotAt(7, 1));
    assert.deepEqual(segmentNames(dataDir), namesOf([8, 9, 10]));
    await storage.close();
    storage = await openStorage(dataDir, segmentPerWrite);
    assert.deepEqual(await storage.load(), {
      hardState: hardState(1, 1, 7),
      snapshot: snapshotAt(7, 1),
      entries: entriesInTerm(8, 8, 1),
    });
  });

  test('a compaction past compactionRollBytes begins a new segment and deletes the one it covers', async () => {
    const dataDir = temporaryDirectory();
    const rollAtOnce: WalStorageOptions = { compactionRollBytes: 1 };
    let storage = await openStorage(dataDir, rollAtOnce);
    await storage.save({ hardState: hardState(1, 1, 4), entries: entriesInTerm(1, 4, 1) });
    await storage.compact(snapshotAt(4, 1));
    // Segment 1 held entries 1..4 only, all covered by the snapshot: nothing in it is needed.
    assert.deepEqual(segmentNames(dataDir), namesOf([2]));
    assert.equal(storage.currentSegment, 2);
    await storage.save({ hardState: hardState(1, 1, 6), entries: entriesInTerm(5, 6, 1) });
    const expected: PersistedState = {
      hardState: hardState(1, 1, 6),
      snapshot: snapshotAt(4, 1),
      entries: entriesInTerm(5, 6, 1),
    };
    assert.deepEqual(await storage.load(), expected);
    await storage.close();
    storage = await openStorage(dataDir, rollAtOnce);
    assert.deepEqual(await storage.load(), expected);
    // Entries after the snapshot keep their segment until a later compaction covers them.
    await storage.save({ hardState: hardState(1, 1, 7), entries: entriesInTerm(7, 8, 1) });
    await storage.compact(snapshotAt(7, 1));
    assert.deepEqual(segmentNames(dataDir), namesOf([2, 3]));
    await storage.close();
    storage = await openStorage(dataDir);
    assert.deepEqual(await storage.load(), {
      hardState: hardState(1, 1, 7),
      snapshot: snapshotAt(7, 1),
      entries: entriesInTerm(8, 8, 1),
    });
  });

  test('a conflicting suffix replaced across segments', async () => {
    const dataDir = temporaryDirectory();
    let storage = await openStorage(dataDir, segmentPerWrite);
    for (let index = 1; index <= 6; index++) {
      await storage.save({
        hardState: hardState(1, 1, Math.min(index - 1, 2)),
        entries: [normalEntry(index, 1)],
      });
    }
    // A new leader in term 2 replaces entries 4..6 (in segments 4..6) with its own 4..5.
    await storage.save({ hardState: hardState(2, 2, 2), entries: entriesInTerm(4, 5, 2) });
    const expected = {
      hardState: hardState(2, 2, 2),
      entries: [...entriesInTerm(1, 3, 1), ...entriesInTerm(4, 5, 2)],
    };
    assert.deepEqual(await storage.load(), expected);
    await storage.close();
    storage = await openStorage(dataDir, segmentPerWrite);
    assert.deepEqual(await storage.load(), expected);
    // Segments 4..6 now hold nothing of the log: a compaction at 4 deletes 1..6. It keeps 7
    // (entry 5), 8 (a hard state, after 7) and 9 (the current one, with the marker).
    await storage.save({ hardState: hardState(2, 2, 4), entries: [] });
    await storage.compact(snapshotAt(4, 2));
    assert.deepEqual(segmentNames(dataDir), namesOf([7, 8, 9]));
    await storage.close();
    storage = await openStorage(dataDir, segmentPerWrite);
    assert.deepEqual(await storage.load(), {
      hardState: hardState(2, 2, 4),
      snapshot: snapshotAt(4, 2),
      entries: [normalEntry(5, 2)],
    });
  });

  test("a leader's snapshot replaces the log; the next compaction deletes every old segment", async () => {
    const dataDir = temporaryDirectory();
    let storage = await openStorage(dataDir, segmentPerWrite);
    for (let index = 1; index <= 4; index++) {
      await storage.save({
        hardState: hardState(1, 1, index - 1),
        entries: [normalEntry(index, 1)],
      });
    }
    const batch = {
      snapshot: snapshotAt(20, 5),
      hardState: hardState(5, 0, 20),
      entries: entriesInTerm(21, 22, 5),
    };
    await storage.save(batch);
    const expected: PersistedState = { ...batch, hardState: hardState(5, 0, 20) };
    storage = await reopen(storage, dataDir);
    assert.deepEqual(await storage.load(), expected);
    await storage.save({ hardState: hardState(5, 0, 21), entries: [] });
    await storage.compact(snapshotAt(21, 5));
    // Segment 5 holds entry 22; 6 the hard state, 7 the marker.
    assert.deepEqual(segmentNames(dataDir), namesOf([5, 6, 7]));
    storage = await reopen(storage, dataDir);
    assert.deepEqual(await storage.load(), {
      hardState: hardState(5, 0, 21),
      snapshot: snapshotAt(21, 5),
      entries: [normalEntry(22, 5)],
    });
  });
});

describe('WalStorage: a crash between the snapshot file and its marker', () => {
  /** Entries 1..10 in term 2, commit 8, compacted at 3, closed. */
  async function compactedDataDir(): Promise<string> {
    const dataDir = temporaryDirectory();
    const storage = await openStorage(dataDir);
    await storage.save({ hardState: hardState(2, 1, 8), entries: entriesInTerm(1, 10, 2) });
    await storage.compact(snapshotAt(3, 2));
    await storage.close();
    return dataDir;
  }

  const oldState: PersistedState = {
    hardState: hardState(2, 1, 8),
    snapshot: snapshotAt(3, 2),
    entries: entriesInTerm(4, 10, 2),
  };

  for (const [name, snapshot] of [
    ['a compaction', snapshotAt(6, 2)],
    ["a leader's snapshot", snapshotAt(20, 5)],
  ] as const) {
    test(`${name}: the old state loads and the unmarked file is deleted`, async () => {
      const dataDir = await compactedDataDir();
      // The file alone, as if the process died before the marker was appended.
      writeSnapshotFile(dataDir, {
        index: snapshot.index,
        term: snapshot.term,
        metadata: { confState: snapshot.confState },
        data: snapshot.data,
      });
      const storage = await openStorage(dataDir);
      assert.deepEqual(await storage.load(), oldState);
      assert.deepEqual(readdirSync(snapshotDirectory(dataDir)), ['00000000000000000003.snap']);
      // The same snapshot can be taken again.
      await storage.compact(snapshotAt(6, 2));
      assert.deepEqual((await storage.load()).snapshot, snapshotAt(6, 2));
    });
  }
});

async function reopen(storage: WalStorage, dataDir: string): Promise<WalStorage> {
  await storage.close();
  return openStorage(dataDir, segmentPerWrite);
}

describe('WalStorage survives SIGKILL', () => {
  const roundsCount = 3;
  const acksBeforeKill = 40;

  /**
   * The writer, written next to the data directory: it continues the log it finds, with 1 to 4
   * entries per save, a compaction every 25 entries and 4 KiB segments, and prints
   * `acked <lastIndex> <commit>` after each save resolves. Bounded, in case it is never killed.
   */
  function writerSource(): string {
    const storageModule = join(import.meta.dirname, '../../src/storage/wal-storage.ts');
    const helpersModule = join(import.meta.dirname, 'helpers.ts');
    return `
      const { WalStorage } = await import(${JSON.stringify(storageModule)});
      const { normalEntry, snapshotAt } = await import(${JSON.stringify(helpersModule)});
      const storage = await WalStorage.open(process.argv[2], { segmentBytesMax: 4096 });
      const persisted = await storage.load();
      let lastIndex = (persisted.snapshot?.index ?? 0) + persisted.entries.length;
      let snapshotIndex = persisted.snapshot?.index ?? 0;
      for (let batchNumber = 0; batchNumber < 1000000; batchNumber++) {
        const size = 1 + (batchNumber % 4);
        const entries = [];
        for (let index = lastIndex + 1; index <= lastIndex + size; index++) {
          entries.push(normalEntry(index, 1));
        }
        const commit = lastIndex;
        await storage.save({ hardState: { term: 1, vote: 1, commit }, entries });
        lastIndex += size;
        process.stdout.write('acked ' + lastIndex + ' ' + commit + '\\n');
        if (commit - snapshotIndex >= 25) {
          await storage.compact(snapshotAt(commit, 1));
          snapshotIndex = commit;
        }
      }
    `;
  }

  test(`every acknowledged entry is there after a kill, ${roundsCount} rounds`, async () => {
    const directory = temporaryDirectory();
    const dataDir = join(directory, 'data');
    const scriptPath = join(directory, 'writer.mjs');
    writeFileSync(scriptPath, writerSource());
    for (let round = 0; round < roundsCount; round++) {
      const lastAck = await runWriterUntilKilled(scriptPath, dataDir, acksBeforeKill);
      const storage = await openStorage(dataDir);
      const { hardState: loaded, snapshot, entries } = await storage.load();
      await storage.close();
      const snapshotIndex = snapshot?.index ?? 0;
      const lastIndex = snapshotIndex + entries.length;
      assert.ok(lastIndex >= lastAck.index, `round ${round}: ${lastIndex} < ${lastAck.index}`);
      assert.ok(loaded.commit >= lastAck.commit, `round ${round}: commit ${loaded.commit}`);
      for (const entry of entries) {
        assert.deepEqual(
          entry.data,
          payloadOf(entry.index),
          `round ${round}: entry ${entry.index}`,
        );
      }
    }
  });
});
