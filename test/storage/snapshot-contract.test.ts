// Snapshots in the RaftStorage contract, run against every implementation: a compaction keeps the
// snapshot and drops the entries it covers; a snapshot from the leader replaces the whole log;
// both survive a reopen; batches and compactions that do not fit are refused and write nothing.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { Entry, HardState, PersistedState, Snapshot } from '../../src/raft/types.js';
import type { RaftStorage } from '../../src/storage/storage.js';
import { AssertionError } from '../../src/util/assert.js';
import { lmdbHarness, memoryHarness, walHarness } from './harness.js';
import {
  confChangeEntry,
  entriesInTerm,
  normalEntry,
  SeededRandom,
  snapshotAt,
  testSeed,
} from './helpers.js';

const hardState = (term: number, vote: number, commit: number): HardState => ({
  term,
  vote,
  commit,
});

/** Entries 1..10 (4 is a membership change) in term 2, commit 8. */
async function tenEntries(storage: RaftStorage): Promise<Entry[]> {
  const entries = [...entriesInTerm(1, 3, 2), confChangeEntry(4, 2), ...entriesInTerm(5, 10, 2)];
  await storage.save({ hardState: hardState(2, 1, 8), entries });
  return entries;
}

function assertRefused(message: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof AssertionError, `expected an AssertionError: ${error}`);
    assert.match(error.message, message);
    return true;
  };
}

for (const harness of [
  memoryHarness(),
  lmdbHarness(),
  walHarness(),
  // Tiny segments: nearly every write begins a new segment, and compactions delete old ones.
  walHarness({ segmentBytesMax: 1024 }),
]) {
  describe(`RaftStorage snapshots: ${harness.name}`, () => {
    afterEach(() => harness.cleanup());

    test('a compaction keeps the snapshot and the entries after it, across a reopen', async () => {
      let storage = await harness.create();
      const entries = await tenEntries(storage);
      await storage.compact(snapshotAt(6, 2));
      const expected: PersistedState = {
        hardState: hardState(2, 1, 8),
        snapshot: snapshotAt(6, 2),
        entries: entries.slice(6),
      };
      assert.deepEqual(await storage.load(), expected);
      storage = await harness.reopen(storage);
      assert.deepEqual(await storage.load(), expected);
      // The log goes on after it; a later compaction moves the snapshot on.
      await storage.save({ hardState: hardState(2, 1, 11), entries: [normalEntry(11, 2)] });
      await storage.compact(snapshotAt(11, 2));
      storage = await harness.reopen(storage);
      assert.deepEqual(await storage.load(), {
        hardState: hardState(2, 1, 11),
        snapshot: snapshotAt(11, 2),
        entries: [],
      });
      // A conflicting suffix right after the snapshot is replaced as usual.
      await storage.save({ hardState: hardState(3, 2, 11), entries: [normalEntry(12, 3)] });
      await storage.save({ hardState: hardState(4, 3, 11), entries: [normalEntry(12, 4)] });
      assert.deepEqual((await storage.load()).entries, [normalEntry(12, 4)]);
    });

    test('a snapshot from the leader replaces the whole log, entries after it kept', async () => {
      let storage = await harness.create();
      await tenEntries(storage);
      await storage.compact(snapshotAt(3, 2));
      const batch = {
        snapshot: snapshotAt(20, 5),
        hardState: hardState(5, 0, 20),
        entries: entriesInTerm(21, 22, 5),
      };
      await storage.save(batch);
      const expected: PersistedState = {
        hardState: hardState(5, 0, 20),
        snapshot: snapshotAt(20, 5),
        entries: entriesInTerm(21, 22, 5),
      };
      assert.deepEqual(await storage.load(), expected);
      storage = await harness.reopen(storage);
      assert.deepEqual(await storage.load(), expected);
    });

    test('a snapshot from the leader on an empty storage (a new node)', async () => {
      let storage = await harness.create();
      await storage.save({
        snapshot: snapshotAt(7, 3),
        hardState: hardState(3, 0, 7),
        entries: [],
      });
      storage = await harness.reopen(storage);
      assert.deepEqual(await storage.load(), {
        hardState: hardState(3, 0, 7),
        snapshot: snapshotAt(7, 3),
        entries: [],
      });
    });

    const refusals: {
      name: string;
      act: (storage: RaftStorage) => Promise<void>;
      message: RegExp;
    }[] = [
      {
        name: 'a compaction beyond the commit index',
        act: (storage) => storage.compact(snapshotAt(9, 2)),
        message: /compaction at 9 beyond the stored commit 8/,
      },
      {
        name: 'a compaction whose term is not the entry’s',
        act: (storage) => storage.compact(snapshotAt(5, 1)),
        message: /compaction at 5 has term 1/,
      },
      {
        name: 'a compaction not past the snapshot',
        act: (storage) => storage.compact(snapshotAt(3, 2)),
        message: /compaction at 3 is not past the snapshot at 3/,
      },
      {
        name: 'a batch inside the snapshot',
        act: (storage) => storage.save({ hardState: undefined, entries: [normalEntry(3, 2)] }),
        message: /batch starts at index 3, inside the snapshot at 3/,
      },
      {
        name: 'a leader snapshot not past the stored one',
        act: (storage) =>
          storage.save({ snapshot: snapshotAt(2, 2), hardState: undefined, entries: [] }),
        message: /snapshot at 2 is not past the stored one at 3/,
      },
      {
        name: 'entries that do not follow a leader snapshot',
        act: (storage) =>
          storage.save({
            snapshot: snapshotAt(20, 2),
            hardState: hardState(2, 1, 20),
            entries: [normalEntry(22, 2)],
          }),
        message: /batch starts at index 22 but the log ends at 20/,
      },
      {
        name: 'a snapshot without voters',
        act: (storage) =>
          storage.save({
            snapshot: { ...snapshotAt(20, 2), confState: { voters: [], learners: [] } },
            hardState: hardState(2, 1, 20),
            entries: [],
          }),
        message: /snapshot at 20: the membership has no voter/,
      },
    ];
    for (const { name, act, message } of refusals) {
      test(`refused, writing nothing: ${name}`, async () => {
        const storage = await harness.create();
        const entries = await tenEntries(storage);
        await storage.compact(snapshotAt(3, 2));
        const before = await storage.load();
        assert.deepEqual(before.entries, entries.slice(3));
        await assert.rejects(act(storage), assertRefused(message));
        assert.deepEqual(await storage.load(), before);
      });
    }

    const seed = testSeed(0x5a9);
    test(`random batches and compactions load back exactly, across reopens (seed ${seed})`, async () => {
      const random = new SeededRandom(seed);
      let storage = await harness.create();
      const model: Model = { hardState: hardState(1, 1, 0), snapshot: undefined, entries: [] };
      await storage.save({ hardState: model.hardState, entries: [] });
      let compactions = 0;
      for (let step = 0; step < 150; step++) {
        const snapshotIndex = model.snapshot?.index ?? 0;
        const lastIndex = snapshotIndex + model.entries.length;
        const commit = model.hardState.commit;
        if (commit > snapshotIndex && random.nextInt(4) === 0) {
          const index = snapshotIndex + 1 + random.nextInt(commit - snapshotIndex);
          const term = model.entries[index - snapshotIndex - 1]?.term ?? 0;
          const snapshot = snapshotAt(index, term);
          await storage.compact(snapshot);
          model.entries = model.entries.slice(index - snapshotIndex);
          model.snapshot = snapshot;
          compactions++;
        } else {
          const term = model.hardState.term;
          const first = commit + 1 + random.nextInt(lastIndex - commit + 1);
          const entries = entriesInTerm(first, first + random.nextInt(5), term);
          const last = entries.at(-1)?.index ?? lastIndex;
          const next = hardState(term, 1, commit + random.nextInt(last - commit + 1));
          await storage.save({ hardState: next, entries });
          model.entries.length = first - 1 - snapshotIndex;
          model.entries.push(...entries);
          model.hardState = next;
        }
        if (random.nextInt(15) === 0) storage = await harness.reopen(storage);
        assert.deepEqual(await storage.load(), persisted(model), `step ${step}, seed ${seed}`);
      }
      assert.ok(compactions > 10, `the run compacted: ${compactions}`);
    });
  });
}

interface Model {
  hardState: HardState;
  snapshot: Snapshot | undefined;
  entries: Entry[];
}

function persisted(model: Model): PersistedState {
  const { hardState: state, snapshot, entries } = model;
  return snapshot === undefined
    ? { hardState: state, entries }
    : { hardState: state, snapshot, entries };
}
