/**
 * The fault runs' randomness: lockd's own seeded xoshiro128** (src/raft/random.ts), one stream per
 * concern (the nemesis, each client), all derived from the run's seed. Separate streams keep the
 * fault schedule the same when the workload changes, and the reverse. Never Math.random.
 */
import { SeededRandom } from '../../src/raft/random.js';
import { assert } from '../../src/util/assert.js';

/** The concerns that draw numbers. A new concern takes the next free number. */
export const RandomStream = {
  nemesis: 1,
  /** Client `c` draws from `clientBase + c`. */
  clientBase: 1_000,
} as const;

export class RunRandom {
  readonly #source: SeededRandom;

  constructor(seed: number, stream: number) {
    assert(Number.isSafeInteger(seed) && seed >= 0, `seeds are non-negative integers, got ${seed}`);
    this.#source = new SeededRandom(mixSeed(seed, stream));
  }

  /** An integer in [0, maxExclusive). */
  nextInt(maxExclusive: number): number {
    return this.#source.nextInt(maxExclusive);
  }

  /** An integer in [min, maxInclusive]. */
  between(min: number, maxInclusive: number): number {
    assert(maxInclusive >= min, `empty range [${min}, ${maxInclusive}]`);
    return min + this.#source.nextInt(maxInclusive - min + 1);
  }

  /** True with the given probability, in whole percent. */
  percent(percent: number): boolean {
    return this.#source.nextInt(100) < percent;
  }

  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, 'pick from an empty list');
    return items[this.#source.nextInt(items.length)] as T;
  }

  /** A new array with the items in a random order (Fisher–Yates). */
  shuffled<T>(items: readonly T[]): T[] {
    const result = [...items];
    for (let index = result.length - 1; index > 0; index--) {
      const other = this.#source.nextInt(index + 1);
      const held = result[index] as T;
      result[index] = result[other] as T;
      result[other] = held;
    }
    return result;
  }
}

/** Seeds that differ in one bit, or streams of one seed, give unrelated generators. */
function mixSeed(seed: number, stream: number): number {
  let mixed = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.floor(seed / 2 ** 32)) >>> 0;
  mixed = Math.imul(mixed ^ (stream >>> 0), 0x85ebca6b) >>> 0;
  return (mixed ^ (mixed >>> 13)) >>> 0;
}
