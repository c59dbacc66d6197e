import { assert } from '../util/assert.js';
import type { Random } from './types.js';

const twoToThe32 = 2 ** 32;
/** Draws rejected by `nextInt` before giving up: each is rejected with probability below 1/2. */
const rejectionDrawsMax = 64;

/**
 * xoshiro128** (Blackman and Vigna), seeded through splitmix32 so that nearby seeds give unrelated
 * streams. Deterministic: the same seed always yields the same sequence, which is what makes a
 * failing simulation seed replay exactly.
 */
export class SeededRandom implements Random {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  constructor(seed: number) {
    assert(Number.isInteger(seed), `a random seed must be an integer, got ${seed}`);
    let state = seed >>> 0;
    const splitmix32 = (): number => {
      state = (state + 0x9e3779b9) >>> 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#s0 = splitmix32();
    this.#s1 = splitmix32();
    this.#s2 = splitmix32();
    this.#s3 = splitmix32();
    // xoshiro's only bad state is all zeros, which splitmix32 cannot produce four times in a row.
    assert((this.#s0 | this.#s1 | this.#s2 | this.#s3) !== 0, 'xoshiro128** state is all zeros');
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number {
    const result = Math.imul(rotateLeft(Math.imul(this.#s1, 5), 7), 9) >>> 0;
    const t = this.#s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotateLeft(this.#s3, 11);
    return result;
  }

  /** An integer in [0, maxExclusive), without modulo bias (rejection sampling). */
  nextInt(maxExclusive: number): number {
    assert(
      Number.isInteger(maxExclusive) && maxExclusive >= 1 && maxExclusive <= twoToThe32,
      `nextInt needs an integer bound in [1, 2^32], got ${maxExclusive}`,
    );
    // The largest multiple of maxExclusive not above 2^32: draws at or past it would be biased.
    const limit = twoToThe32 - (twoToThe32 % maxExclusive);
    for (let draw = 0; draw < rejectionDrawsMax; draw++) {
      const value = this.nextUint32();
      if (value < limit) return value % maxExclusive;
    }
    throw new Error(
      `nextInt: ${rejectionDrawsMax} draws were all rejected; the generator is broken`,
    );
  }
}

function rotateLeft(value: number, bits: number): number {
  return (value << bits) | (value >>> (32 - bits));
}

export function createRandom(seed: number): Random {
  return new SeededRandom(seed);
}
