// MemoryStorage's helpers for tests and the simulator: snapshots, batch counts, injected failures.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { emptyHardState } from '../../src/raft/types.js';
import { StorageCorruptError } from '../../src/storage/log-checks.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import { entriesInTerm, normalEntry } from './helpers.js';

describe('MemoryStorage helpers', () => {
  test('snapshot is a deep copy of what was saved, and restarts a node', async () => {
    const storage = new MemoryStorage();
    await storage.save({
      hardState: { term: 1, vote: 2, commit: 1 },
      entries: entriesInTerm(1, 2, 1),
    });
    const snapshot = storage.snapshot();
    snapshot.entries[0]?.data.fill(0);
    assert.deepEqual(storage.snapshot(), {
      hardState: { term: 1, vote: 2, commit: 1 },
      entries: entriesInTerm(1, 2, 1),
    });
    await storage.close();
    const restarted = new MemoryStorage(storage.snapshot());
    assert.deepEqual(await restarted.load(), storage.snapshot());
    assert.equal(restarted.lastIndex, 2);
  });

  test('savedBatchCount counts batches (what a disk would fsync), not entries', async () => {
    const storage = new MemoryStorage();
    assert.equal(storage.savedBatchCount, 0);
    await storage.save({
      hardState: { term: 1, vote: 1, commit: 0 },
      entries: entriesInTerm(1, 5, 1),
    });
    await storage.save({ hardState: { term: 1, vote: 1, commit: 5 }, entries: [] });
    assert.equal(storage.savedBatchCount, 2);
    assert.equal(storage.lastIndex, 5);
  });

  test('failNextSave fails exactly the next save, which writes nothing', async () => {
    const storage = new MemoryStorage();
    const diskFull = new Error('ENOSPC: no space left on device');
    storage.failNextSave(diskFull);
    const batch = { hardState: { term: 1, vote: 1, commit: 0 }, entries: [normalEntry(1, 1)] };
    await assert.rejects(storage.save(batch), (error: unknown) => error === diskFull);
    assert.deepEqual(await storage.load(), { hardState: emptyHardState, entries: [] });
    assert.equal(storage.savedBatchCount, 0);
    await storage.save(batch);
    assert.deepEqual(await storage.load(), batch);
  });

  test('an initial state that is not a valid log is refused', () => {
    assert.throws(
      () =>
        new MemoryStorage({
          hardState: { term: 1, vote: 1, commit: 0 },
          entries: [normalEntry(1, 1), normalEntry(3, 1)],
        }),
      (error: unknown) =>
        error instanceof StorageCorruptError &&
        error.message ===
          'lockd storage in memory is corrupt: entry 2 is missing (found index 3 in its place)',
    );
  });
});
