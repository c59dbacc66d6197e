/**
 * A sorted set kept as a list of small sorted chunks (the shape of Python's sortedcontainers):
 * add, delete and seek cost a binary search over the chunks plus a splice inside one chunk, so
 * they stay fast with millions of values, and iterating from any point needs no sorting.
 *
 * Invariants: chunks are non-empty, each sorted strictly ascending, each at most
 * 2 * chunkSize long, and every value of a chunk is below every value of the next one.
 * Assertions on the hot paths build their message only when they fail.
 */
import { assert } from '../util/assert.js';

export type Compare<T> = (left: T, right: T) => number;

const defaultChunkSize = 512;

export class SortedSet<T> {
  readonly #compare: Compare<T>;
  readonly #chunkSize: number;
  #chunks: T[][] = [];
  #size = 0;

  constructor(compare: Compare<T>, chunkSize = defaultChunkSize) {
    assert(Number.isInteger(chunkSize) && chunkSize >= 2, `chunk size ${chunkSize}`);
    this.#compare = compare;
    this.#chunkSize = chunkSize;
  }

  /** Builds a set from values already sorted strictly ascending, in linear time. */
  static fromSorted<T>(compare: Compare<T>, sorted: readonly T[], chunkSize = defaultChunkSize) {
    const set = new SortedSet(compare, chunkSize);
    for (let start = 0; start < sorted.length; start += chunkSize) {
      set.#chunks.push(sorted.slice(start, start + chunkSize));
    }
    set.#size = sorted.length;
    set.assertInvariants();
    return set;
  }

  get size(): number {
    return this.#size;
  }

  /** Adds `value`; false (and no change) when an equal value is already there. */
  add(value: T): boolean {
    if (this.#chunks.length === 0) {
      this.#chunks.push([value]);
      this.#size = 1;
      return true;
    }
    const chunkIndex = Math.min(this.#chunkFor(value), this.#chunks.length - 1);
    const chunk = this.#chunkAt(chunkIndex);
    const position = this.#lowerBound(chunk, value);
    const found = chunk[position];
    if (found !== undefined && this.#compare(found, value) === 0) return false;
    chunk.splice(position, 0, value);
    this.#size++;
    if (chunk.length > 2 * this.#chunkSize) {
      this.#chunks.splice(chunkIndex + 1, 0, chunk.splice(this.#chunkSize));
    }
    return true;
  }

  /** Removes the value equal to `value`; false when there is none. */
  delete(value: T): boolean {
    const chunkIndex = this.#chunkFor(value);
    const chunk = this.#chunks[chunkIndex];
    if (chunk === undefined) return false;
    const position = this.#lowerBound(chunk, value);
    const found = chunk[position];
    if (found === undefined || this.#compare(found, value) !== 0) return false;
    chunk.splice(position, 1);
    this.#size--;
    if (chunk.length === 0) this.#chunks.splice(chunkIndex, 1);
    return true;
  }

  has(value: T): boolean {
    const chunk = this.#chunks[this.#chunkFor(value)];
    if (chunk === undefined) return false;
    const found = chunk[this.#lowerBound(chunk, value)];
    return found !== undefined && this.#compare(found, value) === 0;
  }

  first(): T | undefined {
    return this.#chunks[0]?.[0];
  }

  /**
   * The values in ascending order, from the first one at or after `from` (or strictly after it
   * when `exclusive`); from the smallest when `from` is undefined. Changing the set while
   * iterating is not allowed.
   */
  *ascending(from?: T, exclusive = false): Generator<T, void, undefined> {
    let chunkIndex = from === undefined ? 0 : this.#chunkFor(from);
    let chunk = this.#chunks[chunkIndex];
    if (chunk === undefined) return;
    let position = from === undefined ? 0 : this.#lowerBound(chunk, from);
    const found = chunk[position];
    if (
      exclusive &&
      from !== undefined &&
      found !== undefined &&
      this.#compare(found, from) === 0
    ) {
      position++;
    }
    const sizeAtStart = this.#size;
    while (chunk !== undefined) {
      for (; position < chunk.length; position++) {
        yield this.#valueAt(chunk, position);
        assert(this.#size === sizeAtStart, 'the sorted set changed while being iterated');
      }
      chunkIndex++;
      chunk = this.#chunks[chunkIndex];
      position = 0;
    }
  }

  /** Checks every invariant (tests and bulk loads; linear in the size). */
  assertInvariants(): void {
    let counted = 0;
    let previous: T | undefined;
    for (const chunk of this.#chunks) {
      assert(chunk.length >= 1 && chunk.length <= 2 * this.#chunkSize, 'chunk size out of range');
      for (const value of chunk) {
        assert(previous === undefined || this.#compare(previous, value) < 0, 'not ascending');
        previous = value;
        counted++;
      }
    }
    assert(counted === this.#size, `size ${this.#size} but ${counted} values`);
  }

  /** The first chunk whose last value is at or after `value` (chunks.length when none is). */
  #chunkFor(value: T): number {
    let low = 0;
    let high = this.#chunks.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const chunk = this.#chunkAt(middle);
      if (this.#compare(this.#valueAt(chunk, chunk.length - 1), value) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** The first position in `chunk` whose value is at or after `value`. */
  #lowerBound(chunk: readonly T[], value: T): number {
    let low = 0;
    let high = chunk.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#compare(this.#valueAt(chunk, middle), value) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  #chunkAt(index: number): T[] {
    const chunk = this.#chunks[index];
    if (chunk === undefined) assert(false, `chunk ${index} of ${this.#chunks.length}`);
    return chunk;
  }

  #valueAt(chunk: readonly T[], position: number): T {
    if (position < 0 || position >= chunk.length)
      assert(false, `position ${position} of ${chunk.length}`);
    return chunk[position] as T;
  }
}
