/**
 * A sorted map kept as a list of small sorted chunks of keys, each with a chunk of values beside
 * it (the layout of sorted-set.ts): get, set and delete cost a binary search over the chunks plus
 * one inside a chunk, and iterating in key order from any point needs neither sorting nor lookups.
 *
 * The lock state machine keeps its locks in one of these instead of a hash map plus a sorted index
 * of the names: at a million locks that saves the hash table (about 30 bytes a lock), a snapshot
 * walks the locks in name order without a hash lookup per lock (which cost most of its time), and
 * a restore builds the map from the snapshot's sorted names without hashing any of them.
 *
 * Invariants: keys[i] and values[i] have the same length; chunks are non-empty, each sorted
 * strictly ascending, each at most 2 * chunkSize long, and every key of a chunk is below every
 * key of the next one. Assertions on the hot paths build their message only when they fail.
 */
import { assert } from '../util/assert.js';
import type { Compare } from './sorted-set.js';

const defaultChunkSize = 512;

/** Where a key is, or would be inserted: a chunk and a position in it. */
interface Place {
  readonly chunkIndex: number;
  readonly position: number;
  readonly found: boolean;
}

export class SortedMap<K, V> {
  readonly #compare: Compare<K>;
  readonly #chunkSize: number;
  #keys: K[][] = [];
  #values: V[][] = [];
  #size = 0;

  constructor(compare: Compare<K>, chunkSize = defaultChunkSize) {
    assert(Number.isInteger(chunkSize) && chunkSize >= 2, `chunk size ${chunkSize}`);
    this.#compare = compare;
    this.#chunkSize = chunkSize;
  }

  /** Builds a map from keys already sorted strictly ascending and their values, in linear time. */
  static fromSorted<K, V>(
    compare: Compare<K>,
    keys: readonly K[],
    values: readonly V[],
    chunkSize = defaultChunkSize,
  ): SortedMap<K, V> {
    assert(keys.length === values.length, `${keys.length} keys but ${values.length} values`);
    const map = new SortedMap<K, V>(compare, chunkSize);
    for (let start = 0; start < keys.length; start += chunkSize) {
      map.#keys.push(keys.slice(start, start + chunkSize));
      map.#values.push(values.slice(start, start + chunkSize));
    }
    map.#size = keys.length;
    map.assertInvariants();
    return map;
  }

  get size(): number {
    return this.#size;
  }

  get(key: K): V | undefined {
    const place = this.#find(key);
    return place.found ? this.#values[place.chunkIndex]?.[place.position] : undefined;
  }

  has(key: K): boolean {
    return this.#find(key).found;
  }

  /** Sets the value of `key`; true when the key was new, false when its value was replaced. */
  set(key: K, value: V): boolean {
    if (this.#keys.length === 0) {
      this.#keys.push([key]);
      this.#values.push([value]);
      this.#size = 1;
      return true;
    }
    const place = this.#find(key);
    // A key above every key goes at the end of the last chunk.
    const chunkIndex = Math.min(place.chunkIndex, this.#keys.length - 1);
    const keys = this.#chunkAt(this.#keys, chunkIndex);
    const values = this.#chunkAt(this.#values, chunkIndex);
    if (place.found) {
      values[place.position] = value;
      return false;
    }
    const position = place.chunkIndex === chunkIndex ? place.position : keys.length;
    keys.splice(position, 0, key);
    values.splice(position, 0, value);
    this.#size++;
    if (keys.length > 2 * this.#chunkSize) {
      this.#keys.splice(chunkIndex + 1, 0, keys.splice(this.#chunkSize));
      this.#values.splice(chunkIndex + 1, 0, values.splice(this.#chunkSize));
    }
    return true;
  }

  /** Removes `key` and its value; false when it was not there. */
  delete(key: K): boolean {
    const place = this.#find(key);
    if (!place.found) return false;
    const keys = this.#chunkAt(this.#keys, place.chunkIndex);
    const values = this.#chunkAt(this.#values, place.chunkIndex);
    keys.splice(place.position, 1);
    values.splice(place.position, 1);
    this.#size--;
    if (keys.length === 0) {
      this.#keys.splice(place.chunkIndex, 1);
      this.#values.splice(place.chunkIndex, 1);
    }
    return true;
  }

  /**
   * The keys in ascending order, from the first one at or after `from` (or strictly after it
   * when `exclusive`); from the smallest when `from` is undefined. Changing the map while
   * iterating is not allowed.
   */
  *keys(from?: K, exclusive = false): Generator<K, void, undefined> {
    let chunkIndex = 0;
    let position = 0;
    if (from !== undefined) {
      const place = this.#find(from);
      chunkIndex = place.chunkIndex;
      position = place.found && exclusive ? place.position + 1 : place.position;
    }
    const sizeAtStart = this.#size;
    for (let chunk = this.#keys[chunkIndex]; chunk !== undefined; chunk = this.#keys[chunkIndex]) {
      for (; position < chunk.length; position++) {
        yield chunk[position] as K;
        assert(this.#size === sizeAtStart, 'the sorted map changed while being iterated');
      }
      chunkIndex++;
      position = 0;
    }
  }

  /** Calls `visit` with every key and value in ascending key order; `visit` must not change the map. */
  forEach(visit: (key: K, value: V) => void): void {
    const sizeAtStart = this.#size;
    for (let chunkIndex = 0; chunkIndex < this.#keys.length; chunkIndex++) {
      const keys = this.#chunkAt(this.#keys, chunkIndex);
      const values = this.#chunkAt(this.#values, chunkIndex);
      for (let position = 0; position < keys.length; position++) {
        visit(keys[position] as K, values[position] as V);
      }
    }
    assert(this.#size === sizeAtStart, 'the sorted map changed while being visited');
  }

  /** Checks every invariant (tests and bulk loads; linear in the size). */
  assertInvariants(): void {
    assert(this.#keys.length === this.#values.length, 'key and value chunks differ in number');
    let counted = 0;
    let previous: K | undefined;
    for (let chunkIndex = 0; chunkIndex < this.#keys.length; chunkIndex++) {
      const keys = this.#chunkAt(this.#keys, chunkIndex);
      const length = keys.length;
      assert(length >= 1 && length <= 2 * this.#chunkSize, 'chunk size out of range');
      assert(this.#values[chunkIndex]?.length === length, 'a value chunk differs in length');
      for (const key of keys) {
        assert(previous === undefined || this.#compare(previous, key) < 0, 'not ascending');
        previous = key;
        counted++;
      }
    }
    assert(counted === this.#size, `size ${this.#size} but ${counted} keys`);
  }

  /**
   * The chunk that holds `key` or should (the first whose last key is at or after it; the number
   * of chunks when none is), and the first position in it at or after `key`.
   */
  #find(key: K): Place {
    let low = 0;
    let high = this.#keys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const chunk = this.#chunkAt(this.#keys, middle);
      if (this.#compare(chunk[chunk.length - 1] as K, key) < 0) low = middle + 1;
      else high = middle;
    }
    const chunk = this.#keys[low];
    if (chunk === undefined) return { chunkIndex: low, position: 0, found: false };
    let start = 0;
    let end = chunk.length;
    while (start < end) {
      const middle = (start + end) >>> 1;
      if (this.#compare(chunk[middle] as K, key) < 0) start = middle + 1;
      else end = middle;
    }
    const found = start < chunk.length && this.#compare(chunk[start] as K, key) === 0;
    return { chunkIndex: low, position: start, found };
  }

  #chunkAt<T>(chunks: T[][], index: number): T[] {
    const chunk = chunks[index];
    if (chunk === undefined) assert(false, `chunk ${index} of ${chunks.length}`);
    return chunk;
  }
}
