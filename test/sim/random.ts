/**
 * The simulator's randomness: one independent seeded stream per concern (network, disks, faults,
 * clients, each node's raft core), all derived from the run's seed. Separate streams keep a run
 * reproducible and keep a new fault kind or client behaviour from reshuffling every other decision.
 * Never Math.random.
 */
import { SeededRandom } from '../../src/raft/random.js';
import type { Random } from '../../src/raft/types.js';
import { assert } from '../../src/util/assert.js';

/** The concerns that draw random numbers. A new concern takes the next free number. */
export const RandomStream = {
  profile: 1,
  network: 2,
  disk: 3,
  faults: 4,
  clients: 5,
  /** When clients propose and read. */
  clientTiming: 6,
  /** Each node's raft core gets `raftBase + id * 1000 + incarnation`. */
  raftBase: 1_000_000,
} as const;

const twoToThe32 = 2 ** 32;

export class SimRandom implements Random {
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

  /** True with the given probability (0 never draws a number, so it never shifts the stream). */
  chance(probability: number): boolean {
    if (probability <= 0) return false;
    if (probability >= 1) return true;
    return this.#source.nextUint32() < probability * twoToThe32;
  }

  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, 'pick from an empty list');
    const item = items[this.#source.nextInt(items.length)];
    assert(item !== undefined, 'pick out of range');
    return item;
  }

  /** Draws a key of `weights` with probability proportional to its weight. */
  weighted<K extends string>(weights: ReadonlyMap<K, number>): K | undefined {
    let total = 0;
    for (const weight of weights.values()) total += weight;
    if (total <= 0) return undefined;
    let roll = this.#source.nextInt(total);
    for (const [key, weight] of weights) {
      if (roll < weight) return key;
      roll -= weight;
    }
    assert(false, 'weighted draw fell off the end');
  }
}

/** Combines a run seed and a stream number into one 32-bit seed (murmur3's finalizer). */
export function mixSeed(seed: number, stream: number): number {
  let hash = Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.floor(seed / twoToThe32);
  hash = Math.imul(hash ^ stream, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> 0;
}
