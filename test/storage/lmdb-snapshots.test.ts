// LmdbStorage's snapshots on disk: a crash between the snapshot file and the transaction that
// follows it is finished on open; a corrupt or missing snapshot is reported, never skipped.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import type { Snapshot } from '../../src/raft/types.js';
import { LmdbStorage, lmdbLayout, openLmdbDatabases } from '../../src/storage/lmdb-storage.js';
import { StorageCorruptError } from '../../src/storage/log-checks.js';
import { snapshotDirectory, writeSnapshotFile } from '../../src/storage/snapshot-files.js';
import { entriesInTerm, makeTemporaryDirectory, snapshotAt } from './helpers.js';

const directories: { path: string; remove(): void }[] = [];
const opened: LmdbStorage[] = [];

afterEach(async () => {
  for (const storage of opened.splice(0)) await storage.close();
  for (const directory of directories.splice(0)) directory.remove();
});

async function openStorage(dataDir: string): Promise<LmdbStorage> {
  const storage = await LmdbStorage.open(dataDir);
  opened.push(storage);
  return storage;
}

/** A closed data directory with entries 1..10 in term 2, commit 8, compacted at 3. */
async function compactedDataDir(): Promise<string> {
  const directory = makeTemporaryDirectory();
  directories.push(directory);
  const storage = await openStorage(directory.path);
  await storage.save({
    hardState: { term: 2, vote: 1, commit: 8 },
    entries: entriesInTerm(1, 10, 2),
  });
  await storage.compact(snapshotAt(3, 2));
  await storage.close();
  return directory.path;
}

/** The snapshot file alone, as if the process died before the transaction after it. */
function writeFileOnly(dataDir: string, snapshot: Snapshot): void {
  writeSnapshotFile(dataDir, {
    index: snapshot.index,
    term: snapshot.term,
    metadata: { confState: snapshot.confState },
    data: snapshot.data,
  });
}

async function storedKeys(dataDir: string): Promise<number[]> {
  const databases = openLmdbDatabases(dataDir);
  try {
    return [...databases.entries.getKeys()].map(Number);
  } finally {
    await databases.root.close();
  }
}

async function assertOpenFindsCorruption(dataDir: string, detail: RegExp): Promise<void> {
  await assert.rejects(LmdbStorage.open(dataDir), (error: unknown) => {
    assert.ok(error instanceof StorageCorruptError, `expected StorageCorruptError: ${error}`);
    assert.match(error.message, /is corrupt: /);
    assert.match(error.message, detail);
    return true;
  });
}

describe('LmdbStorage: a crash between the snapshot file and its transaction', () => {
  test('a compaction is finished: entries up to the snapshot go, the rest stay', async () => {
    const dataDir = await compactedDataDir();
    writeFileOnly(dataDir, snapshotAt(6, 2));
    assert.deepEqual(await storedKeys(dataDir), [4, 5, 6, 7, 8, 9, 10]);
    const storage = await openStorage(dataDir);
    assert.deepEqual(await storage.load(), {
      hardState: { term: 2, vote: 1, commit: 8 },
      snapshot: snapshotAt(6, 2),
      entries: entriesInTerm(7, 10, 2),
    });
    await storage.close();
    assert.deepEqual(await storedKeys(dataDir), [7, 8, 9, 10]);
  });

  test("a leader's snapshot is finished: the whole log it replaced goes", async () => {
    const dataDir = await compactedDataDir();
    // Entry 9 has term 2: a snapshot at 9 with term 4 comes from another history.
    writeFileOnly(dataDir, snapshotAt(9, 4));
    const storage = await openStorage(dataDir);
    // The leader's term came in the same batch and was lost with it: it is taken from the snapshot.
    assert.deepEqual(await storage.load(), {
      hardState: { term: 4, vote: 0, commit: 8 },
      snapshot: snapshotAt(9, 4),
      entries: [],
    });
    await storage.close();
    assert.deepEqual(await storedKeys(dataDir), []);
  });
});

describe('LmdbStorage: corrupt snapshots are reported', () => {
  test('a flipped bit in the newest snapshot file', async () => {
    const dataDir = await compactedDataDir();
    const directory = snapshotDirectory(dataDir);
    const [name] = readdirSync(directory);
    assert.ok(name !== undefined);
    const path = join(directory, name);
    const bytes = readFileSync(path);
    bytes[bytes.length - 2] = (bytes[bytes.length - 2] ?? 0) ^ 0x10;
    writeFileSync(path, bytes);
    await assertOpenFindsCorruption(dataDir, /snapshot checksum mismatch/);
  });

  test('the snapshot file the log was compacted to is gone', async () => {
    const dataDir = await compactedDataDir();
    rmSync(snapshotDirectory(dataDir), { recursive: true });
    await assertOpenFindsCorruption(
      dataDir,
      /the log was compacted up to entry 3, but there is no snapshot file/,
    );
  });

  test('a snapshot without a membership in its metadata', async () => {
    const dataDir = await compactedDataDir();
    writeSnapshotFile(dataDir, { index: 5, term: 2, metadata: null, data: new Uint8Array(1) });
    await assertOpenFindsCorruption(dataDir, /the snapshot at 5 has no readable membership/);
  });

  test('an entry kept below the snapshot', async () => {
    const dataDir = await compactedDataDir();
    const databases = openLmdbDatabases(dataDir);
    const record = databases.entries.get(4);
    assert.ok(record !== undefined);
    await databases.entries.put(2, record);
    await databases.root.close();
    const storage = await openStorage(dataDir);
    await assert.rejects(storage.load(), /entry 2 is stored though the snapshot at 3 covers it/);
  });

  test('a damaged snapshot marker', async () => {
    const dataDir = await compactedDataDir();
    const databases = openLmdbDatabases(dataDir);
    await databases.meta.put(lmdbLayout.snapshotMarkerKey, new Uint8Array([1, 2, 3]));
    await databases.root.close();
    await assertOpenFindsCorruption(dataDir, /snapshot marker: snapshot marker record is 3 bytes/);
  });
});
