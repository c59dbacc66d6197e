/**
 * The fault runs' randomness: lockd's own seeded xoshiro128** (src/raft/random.ts), one stream per
 * concern (the nemesis, each client), all derived from the run's seed. Separate streams keep the
 * fault schedule the same when the workload changes, and the reverse. Never Math.random.
 */
import { SimRandom } from '../sim/random.js';

/** The concerns that draw numbers. A new concern takes the next free number. */
export const RandomStream = {
  nemesis: 1,
  /** Client `c` draws from `clientBase + c`. */
  clientBase: 1_000,
} as const;

/** The simulator's seeded streams, with what the fault runs draw besides. */
export class RunRandom extends SimRandom {
  /** True with the given probability, in whole percent. */
  percent(percent: number): boolean {
    return this.chance(percent / 100);
  }

  /** A new array with the items in a random order (Fisher–Yates). */
  shuffled<T>(items: readonly T[]): T[] {
    const result = [...items];
    for (let index = result.length - 1; index > 0; index--) {
      const other = this.nextInt(index + 1);
      const held = result[index] as T;
      result[index] = result[other] as T;
      result[other] = held;
    }
    return result;
  }
}
