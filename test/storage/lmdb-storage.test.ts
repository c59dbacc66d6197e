// What only LmdbStorage does: files in the data directory, one process per directory, corruption
// found on load, and acknowledged entries surviving a SIGKILL.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { DataDirInUseError, lockFileName } from '../../src/storage/data-dir-lock.js';
import { LmdbStorage, lmdbLayout, openLmdbDatabases } from '../../src/storage/lmdb-storage.js';
import { StorageCorruptError } from '../../src/storage/log-checks.js';
import { encodeEntry, encodeHardState } from '../../src/storage/record-codec.js';
import {
  entriesInTerm,
  makeTemporaryDirectory,
  normalEntry,
  payloadOf,
  runWriterUntilKilled,
} from './helpers.js';

const directories: { path: string; remove(): void }[] = [];
const opened: LmdbStorage[] = [];

function temporaryDirectory(): string {
  const directory = makeTemporaryDirectory();
  directories.push(directory);
  return directory.path;
}

async function openStorage(dataDir: string): Promise<LmdbStorage> {
  const storage = await LmdbStorage.open(dataDir);
  opened.push(storage);
  return storage;
}

afterEach(async () => {
  for (const storage of opened.splice(0)) await storage.close();
  for (const directory of directories.splice(0)) directory.remove();
});

/** A data directory holding entries 1..5 in term 1, commit 3, closed again. */
async function fiveEntryDataDir(): Promise<string> {
  const dataDir = temporaryDirectory();
  const storage = await openStorage(dataDir);
  await storage.save({
    hardState: { term: 1, vote: 1, commit: 3 },
    entries: entriesInTerm(1, 5, 1),
  });
  await storage.close();
  return dataDir;
}

/** Changes the closed store in `dataDir` behind LmdbStorage's back, as a bad disk would. */
async function tamper(
  dataDir: string,
  change: (databases: ReturnType<typeof openLmdbDatabases>) => void,
): Promise<void> {
  const databases = openLmdbDatabases(dataDir);
  await databases.root.transaction(() => change(databases));
  await databases.root.close();
}

async function assertLoadFindsCorruption(dataDir: string, detail: RegExp): Promise<void> {
  const storage = await openStorage(dataDir);
  await assert.rejects(storage.load(), (error: unknown) => {
    assert.ok(error instanceof StorageCorruptError, `expected StorageCorruptError: ${error}`);
    assert.equal(error.location, dataDir);
    assert.ok(error.message.startsWith(`lockd storage in ${dataDir} is corrupt: `), error.message);
    assert.match(error.message, detail);
    return true;
  });
}

describe('LmdbStorage files', () => {
  test('open creates a missing data directory, with the environment and LOCK inside', async () => {
    const dataDir = join(temporaryDirectory(), 'nested', 'data');
    const storage = await openStorage(dataDir);
    assert.ok(existsSync(join(dataDir, lmdbLayout.environmentFileName)));
    assert.equal(readFileSync(join(dataDir, lockFileName), 'utf8'), `${process.pid}\n`);
    await storage.close();
    assert.equal(existsSync(join(dataDir, lockFileName)), false, 'close removes LOCK');
  });
});

describe('LmdbStorage: one process per data directory', () => {
  test('a second open while the first is open fails, naming the directory and the pid', async () => {
    const dataDir = temporaryDirectory();
    await openStorage(dataDir);
    await assert.rejects(LmdbStorage.open(dataDir), (error: unknown) => {
      assert.ok(error instanceof DataDirInUseError);
      assert.equal(error.holderPid, process.pid);
      assert.match(error.message, new RegExp(`${dataDir} is in use by process ${process.pid}`));
      return true;
    });
  });

  test('a LOCK of a live process blocks the open and is left alone', async () => {
    const dataDir = temporaryDirectory();
    // The test runner that started this file is alive for as long as this test runs.
    writeFileSync(join(dataDir, lockFileName), `${process.ppid}\n`);
    await assert.rejects(
      LmdbStorage.open(dataDir),
      (error: unknown) => error instanceof DataDirInUseError && error.holderPid === process.ppid,
    );
    assert.equal(readFileSync(join(dataDir, lockFileName), 'utf8'), `${process.ppid}\n`);
  });

  test('a stale LOCK (dead pid, our own pid from an earlier life, or garbage) is taken over', async () => {
    const exited = spawnSync(process.execPath, ['-e', ''], { stdio: 'ignore' });
    assert.equal(exited.status, 0);
    for (const content of [`${exited.pid}\n`, `${process.pid}\n`, '', 'not a pid']) {
      const dataDir = temporaryDirectory();
      writeFileSync(join(dataDir, lockFileName), content);
      const storage = await openStorage(dataDir);
      assert.equal(readFileSync(join(dataDir, lockFileName), 'utf8'), `${process.pid}\n`);
      await storage.close();
    }
  });

  test('a failed open gives the directory back', async () => {
    const dataDir = await fiveEntryDataDir();
    await tamper(dataDir, ({ meta }) => meta.putSync(lmdbLayout.hardStateKey, new Uint8Array(3)));
    for (let attempt = 0; attempt < 2; attempt++) {
      await assert.rejects(LmdbStorage.open(dataDir), (error: unknown) => {
        assert.ok(error instanceof StorageCorruptError, `attempt ${attempt}: ${error}`);
        assert.match(error.message, /hard state: hard state record is 3 bytes, expected 29/);
        return true;
      });
    }
    assert.equal(existsSync(join(dataDir, lockFileName)), false);
  });
});

describe('LmdbStorage finds corruption on load', () => {
  test('a missing entry (a gap)', async () => {
    const dataDir = await fiveEntryDataDir();
    await tamper(dataDir, ({ entries }) => entries.removeSync(3));
    await assertLoadFindsCorruption(dataDir, /entry 3 is missing \(found index 4 in its place\)/);
  });

  test('a flipped bit in an entry', async () => {
    const dataDir = await fiveEntryDataDir();
    await tamper(dataDir, ({ entries }) => {
      const bytes = encodeEntry(normalEntry(2, 1));
      bytes[20] = (bytes[20] ?? 0) ^ 0x01;
      entries.putSync(2, bytes);
    });
    await assertLoadFindsCorruption(dataDir, /entry 2: checksum mismatch/);
  });

  test('an entry stored under the wrong index', async () => {
    const dataDir = await fiveEntryDataDir();
    await tamper(dataDir, ({ entries }) => entries.putSync(2, encodeEntry(normalEntry(4, 1))));
    await assertLoadFindsCorruption(dataDir, /stored under index 2 says it is entry 4/);
  });

  test('terms going down along the log', async () => {
    const dataDir = await fiveEntryDataDir();
    await tamper(dataDir, ({ entries, meta }) => {
      meta.putSync(lmdbLayout.hardStateKey, encodeHardState({ term: 2, vote: 1, commit: 3 }));
      entries.putSync(2, encodeEntry(normalEntry(2, 2)));
    });
    await assertLoadFindsCorruption(dataDir, /term drops from 2 to 1 at entry 3/);
  });

  test('a commit index beyond the last entry', async () => {
    const dataDir = await fiveEntryDataDir();
    await tamper(dataDir, ({ meta }) =>
      meta.putSync(lmdbLayout.hardStateKey, encodeHardState({ term: 1, vote: 1, commit: 9 })),
    );
    await assertLoadFindsCorruption(dataDir, /commit index 9 is beyond the last entry 5/);
  });

  test('an unknown record format version', async () => {
    const dataDir = await fiveEntryDataDir();
    await tamper(dataDir, ({ entries }) => {
      const bytes = encodeEntry(normalEntry(5, 1));
      bytes[0] = 7;
      entries.putSync(5, bytes);
    });
    await assertLoadFindsCorruption(dataDir, /entry 5: record format version 7/);
  });
});

test('timing: 200 sequential single-entry saves (printed, not asserted)', async () => {
  const storage = await openStorage(temporaryDirectory());
  await storage.save({ hardState: { term: 1, vote: 1, commit: 0 }, entries: [] });
  const savesCount = 200;
  const startedMs = performance.now();
  for (let index = 1; index <= savesCount; index++) {
    await storage.save({ hardState: undefined, entries: [normalEntry(index, 1)] });
  }
  const elapsedMs = performance.now() - startedMs;
  console.log(
    `LmdbStorage: ${savesCount} sequential single-entry saves took ${elapsedMs.toFixed(1)} ms ` +
      `(${(elapsedMs / savesCount).toFixed(3)} ms per save, each one fsync)`,
  );
  assert.equal((await storage.load()).entries.length, savesCount);
});

describe('LmdbStorage survives SIGKILL', () => {
  const fixturePath = resolve(import.meta.dirname, 'fixtures', 'crash-writer.ts');
  const roundsCount = 3;
  const acksBeforeKill = 40;

  /** Runs the writer; a second open is refused while it runs, then it is SIGKILLed. */
  function runWriterAndKill(dataDir: string): Promise<{ index: number; commit: number }> {
    return runWriterUntilKilled(fixturePath, dataDir, acksBeforeKill, (pid) =>
      assert.rejects(
        LmdbStorage.open(dataDir),
        (error: unknown) => error instanceof DataDirInUseError && error.holderPid === pid,
      ),
    );
  }

  test(`every acknowledged entry is there after a kill, ${roundsCount} rounds`, async () => {
    const dataDir = temporaryDirectory();
    let previousAckIndex = 0;
    for (let round = 0; round < roundsCount; round++) {
      const lastAck = await runWriterAndKill(dataDir);
      assert.ok(lastAck.index >= previousAckIndex + acksBeforeKill, `round ${round}`);
      const storage = await openStorage(dataDir);
      const { hardState, entries } = await storage.load();
      await storage.close();
      assert.ok(
        entries.length >= lastAck.index,
        `round ${round}: ${entries.length} entries, ${lastAck.index} acknowledged`,
      );
      assert.ok(hardState.commit >= lastAck.commit, `round ${round}: commit ${hardState.commit}`);
      assert.equal(hardState.term, 1);
      for (const entry of entries) {
        assert.deepEqual(
          entry.data,
          payloadOf(entry.index),
          `round ${round}: entry ${entry.index}`,
        );
        assert.equal(entry.term, 1);
      }
      previousAckIndex = entries.length;
    }
  });
});
