// The chunked sorted map behind the lock table: checked against a Map and its sorted keys.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { SortedMap } from '../../src/locks/sorted-map.js';
import { AssertionError } from '../../src/util/assert.js';

const seed = Number(process.env.LOCKD_TEST_SEED ?? 0x5047);
const compareNumbers = (left: number, right: number): number => left - right;

type Operation =
  | { readonly kind: 'set'; readonly key: number; readonly value: string }
  | { readonly kind: 'delete'; readonly key: number }
  | { readonly kind: 'get'; readonly key: number }
  | { readonly kind: 'scan'; readonly from: number; readonly exclusive: boolean };

const key = fc.integer({ min: 0, max: 200 });
const operation: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .tuple(key, fc.string({ maxLength: 3 }))
      .map(([setKey, value]) => ({ kind: 'set', key: setKey, value }) as const),
  },
  { weight: 3, arbitrary: key.map((deleted) => ({ kind: 'delete', key: deleted }) as const) },
  { weight: 2, arbitrary: key.map((read) => ({ kind: 'get', key: read }) as const) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: -1, max: 201 }), fc.boolean())
      .map(([from, exclusive]) => ({ kind: 'scan', from, exclusive }) as const),
  },
);

function sortedEntries(model: ReadonlyMap<number, string>): [number, string][] {
  return [...model].sort(([left], [right]) => left - right);
}

function check(map: SortedMap<number, string>, model: Map<number, string>, step: Operation): void {
  switch (step.kind) {
    case 'set':
      assert.equal(map.set(step.key, step.value), !model.has(step.key));
      model.set(step.key, step.value);
      return;
    case 'delete':
      assert.equal(map.delete(step.key), model.delete(step.key));
      return;
    case 'get':
      assert.equal(map.get(step.key), model.get(step.key));
      assert.equal(map.has(step.key), model.has(step.key));
      return;
    case 'scan': {
      const expected = sortedEntries(model)
        .map(([entryKey]) => entryKey)
        .filter((entryKey) => (step.exclusive ? entryKey > step.from : entryKey >= step.from));
      assert.deepEqual([...map.keys(step.from, step.exclusive)], expected);
      return;
    }
  }
}

describe(`SortedMap (fast-check seed ${seed}; LOCKD_TEST_SEED replays)`, () => {
  test('behaves as a Map kept in key order under sets, deletes, gets and scans', () => {
    fc.assert(
      fc.property(
        fc.array(operation, { maxLength: 400 }),
        fc.integer({ min: 2, max: 6 }),
        (operations, chunkSize) => {
          // Tiny chunks, so that splits and empty chunks happen all the time.
          const map = new SortedMap<number, string>(compareNumbers, chunkSize);
          const model = new Map<number, string>();
          for (const step of operations) {
            check(map, model, step);
            map.assertInvariants();
            assert.equal(map.size, model.size);
          }
          const visited: [number, string][] = [];
          map.forEach((entryKey, value) => {
            visited.push([entryKey, value]);
          });
          assert.deepEqual(visited, sortedEntries(model));
          assert.deepEqual([...map.keys()], [...map.keys(undefined, true)]);
        },
      ),
      { seed, numRuns: 300 },
    );
  });

  test('fromSorted builds the same map as one set at a time', () => {
    const keys = Array.from({ length: 50 }, (_, index) => index * 3);
    const values = keys.map((entryKey) => `v${entryKey}`);
    const built = SortedMap.fromSorted(compareNumbers, keys, values, 4);
    assert.equal(built.size, 50);
    assert.equal(built.get(27), 'v27');
    assert.equal(built.get(28), undefined);
    assert.deepEqual(
      [...built.keys(10, false)],
      keys.filter((entryKey) => entryKey >= 10),
    );
    assert.equal(built.set(28, 'new'), true);
    assert.equal(built.set(27, 'again'), false);
    assert.equal(built.get(27), 'again');
    built.assertInvariants();
  });

  test('fromSorted refuses keys out of order, and keys and values of different lengths', () => {
    assert.throws(() => SortedMap.fromSorted(compareNumbers, [2, 1], ['a', 'b']), AssertionError);
    assert.throws(() => SortedMap.fromSorted(compareNumbers, [1, 2], ['a']), AssertionError);
  });

  test('changing the map while iterating its keys is refused', () => {
    const map = SortedMap.fromSorted(compareNumbers, [1, 2, 3], ['a', 'b', 'c']);
    assert.throws(() => {
      for (const entryKey of map.keys()) map.delete(entryKey + 1);
    }, AssertionError);
  });
});
