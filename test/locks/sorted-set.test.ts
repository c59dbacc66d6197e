// The chunked sorted set behind the deadline index: checked against a sorted array.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { SortedSet } from '../../src/locks/sorted-set.js';
import { AssertionError } from '../../src/util/assert.js';

const seed = Number(process.env.LOCKD_TEST_SEED ?? 0x5047);
const compareNumbers = (left: number, right: number): number => left - right;

type Operation =
  | { readonly kind: 'add'; readonly value: number }
  | { readonly kind: 'delete'; readonly value: number }
  | { readonly kind: 'scan'; readonly from: number; readonly exclusive: boolean };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.integer({ min: 0, max: 200 }).map((value) => ({ kind: 'add', value }) as const),
  },
  {
    weight: 3,
    arbitrary: fc
      .integer({ min: 0, max: 200 })
      .map((value) => ({ kind: 'delete', value }) as const),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: -1, max: 201 }), fc.boolean())
      .map(([from, exclusive]) => ({ kind: 'scan', from, exclusive }) as const),
  },
);

describe(`SortedSet (fast-check seed ${seed}; LOCKD_TEST_SEED replays)`, () => {
  test('behaves as a sorted array of distinct values under adds, deletes and scans', () => {
    fc.assert(
      fc.property(
        fc.array(operation, { maxLength: 400 }),
        fc.integer({ min: 2, max: 6 }),
        (operations, chunkSize) => {
          // Tiny chunks, so that splits and empty chunks happen all the time.
          const set = new SortedSet(compareNumbers, chunkSize);
          let model: number[] = [];
          for (const step of operations) {
            if (step.kind === 'add') {
              assert.equal(set.add(step.value), !model.includes(step.value));
              if (!model.includes(step.value)) model = [...model, step.value].sort(compareNumbers);
            } else if (step.kind === 'delete') {
              assert.equal(set.delete(step.value), model.includes(step.value));
              model = model.filter((value) => value !== step.value);
            } else {
              const expected = model.filter((value) =>
                step.exclusive ? value > step.from : value >= step.from,
              );
              assert.deepEqual([...set.ascending(step.from, step.exclusive)], expected);
            }
            set.assertInvariants();
            assert.equal(set.size, model.length);
            assert.equal(set.first(), model[0]);
          }
          assert.deepEqual([...set.ascending()], model);
          for (const value of [0, 50, 100, 150, 200])
            assert.equal(set.has(value), model.includes(value));
        },
      ),
      { seed, numRuns: 300 },
    );
  });

  test('fromSorted builds the same set as adding one by one', () => {
    const values = Array.from({ length: 1_000 }, (_, index) => index * 3);
    const built = SortedSet.fromSorted(compareNumbers, values, 7);
    assert.equal(built.size, 1_000);
    assert.deepEqual(
      [...built.ascending(10)],
      values.filter((value) => value >= 10),
    );
    assert.equal(built.add(4), true);
    assert.equal(built.delete(3), true);
    built.assertInvariants();
    assert.deepEqual([...built.ascending(0)].slice(0, 4), [0, 4, 6, 9]);
  });

  test('changing the set while iterating it is an assertion failure', () => {
    const set = SortedSet.fromSorted(compareNumbers, [1, 2, 3]);
    assert.throws(() => {
      for (const value of set.ascending()) set.delete(value + 1);
    }, AssertionError);
  });

  test('a million values: add, seek and delete stay fast', () => {
    const set = new SortedSet<number>(compareNumbers);
    const started = performance.now();
    for (let value = 0; value < 1_000_000; value++) set.add((value * 7_919) % 1_000_003);
    const seeks: number[] = [];
    for (let round = 0; round < 1_000; round++) {
      const iterator = set.ascending(round * 997, true)[Symbol.iterator]();
      seeks.push(iterator.next().value ?? -1);
    }
    for (let value = 0; value < 1_000_000; value += 2) set.delete((value * 7_919) % 1_000_003);
    const elapsedMs = performance.now() - started;
    assert.equal(set.size, 500_000);
    assert.equal(seeks.length, 1_000);
    // A sorted array with splice would take minutes here; the bound is loose for slow machines.
    assert.ok(elapsedMs < 20_000, `took ${elapsedMs} ms`);
  });
});
