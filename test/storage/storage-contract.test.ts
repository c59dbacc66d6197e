// The RaftStorage contract, run against every implementation: what is saved is what loads, after
// a reopen too; a batch replaces a conflicting suffix; bad batches are refused and write nothing.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  type Entry,
  type EntryType,
  emptyHardState,
  type HardState,
  noNode,
  type PersistedState,
} from '../../src/raft/types.js';
import type { StorageBatch } from '../../src/storage/storage.js';
import { AssertionError } from '../../src/util/assert.js';
import { lmdbHarness, memoryHarness, walHarness } from './harness.js';
import {
  confChangeEntry,
  entriesInTerm,
  noopEntry,
  normalEntry,
  SeededRandom,
  testSeed,
} from './helpers.js';

const hardState = (term: number, vote: number, commit: number): HardState => ({
  term,
  vote,
  commit,
});

for (const harness of [
  memoryHarness(),
  lmdbHarness(),
  walHarness(),
  // Tiny segments: nearly every write begins a new segment, and compactions delete old ones.
  walHarness({ segmentBytesMax: 1024 }),
]) {
  describe(`RaftStorage contract: ${harness.name}`, () => {
    afterEach(() => harness.cleanup());

    test('a new storage loads the empty hard state and no entries', async () => {
      const storage = await harness.create();
      assert.deepEqual(await storage.load(), { hardState: emptyHardState, entries: [] });
    });

    test('a saved batch loads back exactly', async () => {
      const storage = await harness.create();
      const batch = {
        hardState: hardState(2, 3, 2),
        entries: [noopEntry(1, 1), normalEntry(2, 1), confChangeEntry(3, 2)],
      };
      await storage.save(batch);
      assert.deepEqual(await storage.load(), batch);
    });

    test('a batch with only a hard state keeps the log', async () => {
      const storage = await harness.create();
      await storage.save({ hardState: hardState(1, 1, 0), entries: entriesInTerm(1, 3, 1) });
      await storage.save({ hardState: hardState(2, noNode, 3), entries: [] });
      assert.deepEqual(await storage.load(), {
        hardState: hardState(2, noNode, 3),
        entries: entriesInTerm(1, 3, 1),
      });
    });

    test('a batch with only entries keeps the hard state', async () => {
      const storage = await harness.create();
      await storage.save({ hardState: hardState(1, 1, 0), entries: [] });
      await storage.save({ hardState: undefined, entries: entriesInTerm(1, 2, 1) });
      await storage.save({ hardState: undefined, entries: entriesInTerm(3, 4, 1) });
      assert.deepEqual(await storage.load(), {
        hardState: hardState(1, 1, 0),
        entries: entriesInTerm(1, 4, 1),
      });
    });

    test('entries at or below the last index replace the conflicting suffix', async () => {
      let storage = await harness.create();
      await storage.save({
        hardState: hardState(2, 1, 1),
        entries: [...entriesInTerm(1, 2, 1), ...entriesInTerm(3, 5, 2)],
      });
      await storage.save({ hardState: hardState(3, 2, 1), entries: [normalEntry(3, 3)] });
      assert.deepEqual(await storage.load(), {
        hardState: hardState(3, 2, 1),
        entries: [...entriesInTerm(1, 2, 1), normalEntry(3, 3)],
      });
      await storage.save({ hardState: hardState(3, 2, 6), entries: entriesInTerm(4, 6, 3) });
      const expected = {
        hardState: hardState(3, 2, 6),
        entries: [...entriesInTerm(1, 2, 1), ...entriesInTerm(3, 6, 3)],
      };
      assert.deepEqual(await storage.load(), expected);
      storage = await harness.reopen(storage);
      assert.deepEqual(await storage.load(), expected);
    });

    test('re-saving committed entries unchanged is allowed', async () => {
      const storage = await harness.create();
      await storage.save({ hardState: hardState(1, 1, 3), entries: entriesInTerm(1, 3, 1) });
      await storage.save({ hardState: undefined, entries: entriesInTerm(2, 4, 1) });
      assert.deepEqual((await storage.load()).entries, entriesInTerm(1, 4, 1));
    });

    test('reopening keeps everything, and saving continues where it left off', async () => {
      let storage = await harness.create();
      await storage.save({ hardState: hardState(1, 1, 0), entries: entriesInTerm(1, 4, 1) });
      await storage.save({ hardState: hardState(2, 2, 2), entries: entriesInTerm(3, 3, 2) });
      storage = await harness.reopen(storage);
      assert.deepEqual(await storage.load(), {
        hardState: hardState(2, 2, 2),
        entries: [...entriesInTerm(1, 2, 1), normalEntry(3, 2)],
      });
      await storage.save({ hardState: hardState(2, 2, 4), entries: entriesInTerm(4, 4, 2) });
      storage = await harness.reopen(storage);
      assert.deepEqual(await storage.load(), {
        hardState: hardState(2, 2, 4),
        entries: [...entriesInTerm(1, 2, 1), ...entriesInTerm(3, 4, 2)],
      });
    });

    test('one save at a time: an overlapping save or load is a bug', async () => {
      const storage = await harness.create();
      const first = storage.save({
        hardState: hardState(1, 1, 0),
        entries: entriesInTerm(1, 2, 1),
      });
      // Both start while the first save is still in flight.
      const second = storage.save({ hardState: undefined, entries: entriesInTerm(3, 3, 1) });
      const load = storage.load();
      await assert.rejects(second, AssertionError);
      await assert.rejects(load, AssertionError);
      await first;
      assert.deepEqual(await storage.load(), {
        hardState: hardState(1, 1, 0),
        entries: entriesInTerm(1, 2, 1),
      });
    });

    test('stored entries own their bytes', async () => {
      const storage = await harness.create();
      const entry = normalEntry(1, 1);
      await storage.save({ hardState: hardState(1, 1, 0), entries: [entry] });
      entry.data.fill(0);
      const loaded = await storage.load();
      assert.deepEqual(loaded.entries, [normalEntry(1, 1)]);
      loaded.entries[0]?.data.fill(0);
      assert.deepEqual((await storage.load()).entries, [normalEntry(1, 1)]);
    });

    test('close is idempotent; use after close is a bug', async () => {
      const storage = await harness.create();
      await storage.close();
      await storage.close();
      await assert.rejects(storage.load(), AssertionError);
      await assert.rejects(
        storage.save({ hardState: hardState(1, 1, 0), entries: [] }),
        AssertionError,
      );
    });

    describe('a batch that breaks the log is refused and writes nothing', () => {
      // Stored before each case: entries 1..2 in term 1, 3 in term 2; term 2, voted 1, commit 2.
      const stored: PersistedState = {
        hardState: hardState(2, 1, 2),
        entries: [...entriesInTerm(1, 2, 1), normalEntry(3, 2)],
      };
      const cases: { name: string; batch: StorageBatch; message: RegExp }[] = [
        {
          name: 'a gap after the last index',
          batch: { hardState: undefined, entries: [normalEntry(5, 2)] },
          message: /batch starts at index 5 but the log ends at 3/,
        },
        {
          name: 'index 0',
          batch: { hardState: undefined, entries: [normalEntry(0, 2)] },
          message: /batch starts at index 0/,
        },
        {
          name: 'a gap inside the batch',
          batch: { hardState: undefined, entries: [normalEntry(4, 2), normalEntry(6, 2)] },
          message: /batch jumps from 4 to 6/,
        },
        {
          name: 'a term lower than the entry before',
          batch: { hardState: undefined, entries: [normalEntry(4, 1)] },
          message: /term drops from 2 at index 4/,
        },
        {
          name: 'a term dropping inside the batch',
          batch: { hardState: hardState(3, 1, 2), entries: [normalEntry(4, 3), normalEntry(5, 2)] },
          message: /term drops from 3 at index 5/,
        },
        {
          name: 'an entry term beyond the current term',
          batch: { hardState: undefined, entries: [normalEntry(4, 3)] },
          message: /entry term 3 > current 2/,
        },
        {
          name: 'a committed entry replaced by another term',
          batch: { hardState: undefined, entries: [normalEntry(2, 2)] },
          message: /replaces committed entry 2/,
        },
        {
          name: 'a commit beyond the last index',
          batch: { hardState: hardState(2, 1, 4), entries: [] },
          message: /commit 4 is beyond the last stored index 3/,
        },
        {
          name: 'a term going back',
          batch: { hardState: hardState(1, 1, 2), entries: [] },
          message: /term goes back from 2 to 1/,
        },
        {
          name: 'a commit going back',
          batch: { hardState: hardState(2, 1, 1), entries: [] },
          message: /commit goes back from 2 to 1/,
        },
        {
          name: 'a second vote in the same term',
          batch: { hardState: hardState(2, 3, 2), entries: [] },
          message: /vote in term 2 changes from 1 to 3/,
        },
        {
          name: 'a noop with bytes',
          batch: {
            hardState: undefined,
            entries: [{ ...noopEntry(4, 2), data: new Uint8Array([1]) }],
          },
          message: /entry 4: a noop carries 1 bytes/,
        },
        {
          name: 'a membership change whose record cannot be read',
          batch: {
            hardState: undefined,
            entries: [{ ...confChangeEntry(4, 2), data: new Uint8Array([1, 2, 3]) }],
          },
          message: /entry 4: a membership change whose record cannot be read/,
        },
        {
          name: 'an unknown entry type',
          batch: {
            hardState: undefined,
            entries: [{ ...normalEntry(4, 2), type: 7 as unknown as EntryType }],
          },
          message: /entry 4: unknown type 7/,
        },
      ];
      for (const { name, batch, message } of cases) {
        test(name, async () => {
          const storage = await harness.create();
          await storage.save(stored);
          await assert.rejects(storage.save(batch), (error: unknown) => {
            assert.ok(error instanceof AssertionError, `expected an AssertionError: ${error}`);
            assert.match(error.message, message);
            return true;
          });
          assert.deepEqual(await storage.load(), stored);
          // The refusal left nothing half done: the next good batch is taken.
          await storage.save({ hardState: undefined, entries: [normalEntry(4, 2)] });
          assert.deepEqual((await storage.load()).entries, [...stored.entries, normalEntry(4, 2)]);
        });
      }
    });

    test('a commit only beyond the batch end is refused', async () => {
      const storage = await harness.create();
      await storage.save({ hardState: hardState(1, 1, 0), entries: entriesInTerm(1, 4, 1) });
      await assert.rejects(
        storage.save({ hardState: hardState(2, 1, 3), entries: [normalEntry(2, 2)] }),
        /commit 3 is beyond the batch's last index 2/,
      );
    });

    const seed = testSeed(0x10cd);
    test(`random valid batches load back exactly, across reopens (seed ${seed})`, async () => {
      const random = new SeededRandom(seed);
      let storage = await harness.create();
      const model = { hardState: emptyHardState, entries: [] as Entry[] };
      for (let step = 0; step < 200; step++) {
        const batch = randomBatch(random, model);
        await storage.save(batch);
        applyToModel(model, batch);
        if (random.nextInt(20) === 0) storage = await harness.reopen(storage);
        assert.deepEqual(await storage.load(), model, `step ${step}, seed ${seed}`);
      }
      assert.ok(model.entries.length > 20, `the run built a real log: ${model.entries.length}`);
    });
  });
}

/** A batch a correct Raft node could produce next, given what `model` holds. */
function randomBatch(random: SeededRandom, model: PersistedState): StorageBatch {
  const before = model.hardState;
  let { term, vote, commit } = before;
  if (term === 0 || random.nextInt(5) === 0) {
    term += 1;
    vote = random.nextInt(2) === 0 ? noNode : 1 + random.nextInt(5);
  } else if (vote === noNode && random.nextInt(3) === 0) {
    vote = 1 + random.nextInt(5);
  }
  const lastIndex = model.entries.length;
  // A new batch may start anywhere after the commit index, as a follower's conflicting suffix can.
  const first = commit + 1 + random.nextInt(lastIndex - commit + 1);
  const count = random.nextInt(6);
  const entries: Entry[] = [];
  for (let index = first; index < first + count; index++) {
    entries.push(random.nextInt(5) === 0 ? noopEntry(index, term) : normalEntry(index, term));
  }
  const lastIndexAfter = count > 0 ? first + count - 1 : lastIndex;
  commit += random.nextInt(lastIndexAfter - commit + 1);
  const changed = term !== before.term || vote !== before.vote || commit !== before.commit;
  return { hardState: changed ? { term, vote, commit } : undefined, entries };
}

function applyToModel(model: { hardState: HardState; entries: Entry[] }, batch: StorageBatch) {
  if (batch.hardState !== undefined) model.hardState = batch.hardState;
  const first = batch.entries[0];
  if (first === undefined) return;
  model.entries.length = first.index - 1;
  model.entries.push(...batch.entries);
}
