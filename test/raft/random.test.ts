import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createRandom, SeededRandom } from '../../src/raft/random.js';
import { AssertionError } from '../../src/util/assert.js';

describe('seeded random', () => {
  test('the same seed gives the same sequence, different seeds different ones', () => {
    const draw = (seed: number) =>
      Array.from({ length: 20 }, () => createRandom(seed).nextInt(1000));
    const sequence = (seed: number) => {
      const random = createRandom(seed);
      return Array.from({ length: 20 }, () => random.nextInt(1_000_000));
    };
    assert.deepEqual(sequence(7), sequence(7));
    assert.notDeepEqual(sequence(7), sequence(8));
    assert.equal(new Set(draw(7)).size, 1, 'a fresh generator restarts the sequence');
  });

  test('nextInt stays in range and covers it evenly', () => {
    const random = new SeededRandom(123);
    const counts = new Array<number>(10).fill(0);
    for (let draw = 0; draw < 100_000; draw++) {
      const value = random.nextInt(10);
      assert.ok(Number.isInteger(value) && value >= 0 && value < 10);
      counts[value] = (counts[value] ?? 0) + 1;
    }
    for (const count of counts) assert.ok(Math.abs(count - 10_000) < 500, `count ${count}`);
    assert.equal(random.nextInt(1), 0);
    assert.ok(random.nextInt(2 ** 32) < 2 ** 32);
  });

  test('nextInt refuses bounds that are not positive integers', () => {
    const random = createRandom(1);
    for (const bound of [0, -1, 1.5, 2 ** 32 + 1, Number.NaN]) {
      assert.throws(() => random.nextInt(bound), AssertionError);
    }
  });
});
