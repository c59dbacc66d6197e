/**
 * A log whose every position carries the hash of the whole prefix ending there. Two logs with equal
 * prefix hashes at an index hold the same entries up to it, so the invariants compare histories in
 * O(1) instead of entry by entry. Each position also carries the write serial it was written at:
 * a write replaces a suffix, so the positions written since a serial are a suffix too, found from
 * the end.
 */
import type { Entry } from '../../src/raft/types.js';
import { assert } from '../../src/util/assert.js';

/** The hash of the empty prefix. */
export const emptyPrefixHash = 0;

const twoToThe32 = 2 ** 32;
const twoToThe20 = 2 ** 20;

/**
 * The prefix hash after `entry`, given the prefix hash before it: two murmur3-style lanes (32 and
 * 20 bits) packed into one safe integer, so an accidental collision is a 1 in 2^52 event.
 */
export function chainHash(previous: number, entry: Entry): number {
  let low = (previous % twoToThe32) | 0;
  let high = Math.floor(previous / twoToThe32) ^ 0x5bd1e995;
  const words = [entry.index, entry.term, entry.type, entry.data.length];
  for (const word of words) {
    low = mix(low, word);
    high = mix(high, word ^ 0x27d4eb2f);
  }
  const data = entry.data;
  for (let offset = 0; offset < data.length; offset += 4) {
    const word =
      (data[offset] ?? 0) |
      ((data[offset + 1] ?? 0) << 8) |
      ((data[offset + 2] ?? 0) << 16) |
      ((data[offset + 3] ?? 0) << 24);
    low = mix(low, word);
    high = mix(high, word ^ 0x27d4eb2f);
  }
  return (finalize(high) % twoToThe20) * twoToThe32 + finalize(low);
}

function mix(hash: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  let h = hash ^ k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finalize(hash: number): number {
  let h = hash ^ (hash >>> 16);
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Where a log starts: the snapshot its entries follow (index 0, term 0 and the empty hash if none). */
export interface LogBase {
  readonly index: number;
  readonly term: number;
  readonly hash: number;
}

export const emptyLogBase: LogBase = { index: 0, term: 0, hash: emptyPrefixHash };

export class HashedLog {
  #base: LogBase;
  /** The serial at which the base was last set. */
  #baseSerial: number;
  /** Position i holds the entry of index base.index + i + 1, and so on for the parallel arrays. */
  readonly #entries: Entry[] = [];
  readonly #hashes: number[] = [];
  readonly #serials: number[] = [];

  constructor(base: LogBase = emptyLogBase, serial = 0) {
    this.#base = base;
    this.#baseSerial = serial;
  }

  static from(base: LogBase, entries: readonly Entry[], serial: number): HashedLog {
    const log = new HashedLog(base, serial);
    log.write(entries, serial);
    return log;
  }

  /** The snapshot the log follows: entries at or below its index are compacted away. */
  get base(): LogBase {
    return this.#base;
  }

  get baseSerial(): number {
    return this.#baseSerial;
  }

  get lastIndex(): number {
    return this.#base.index + this.#entries.length;
  }

  /** Whether the prefix hash through `index` is known (it is not for compacted indexes). */
  knows(index: number): boolean {
    return index >= this.#base.index && index <= this.lastIndex;
  }

  /** The prefix hash through `index`, from the base on. */
  hash(index: number): number {
    if (index === this.#base.index) return this.#base.hash;
    const hash = this.#hashes[this.#position(index)];
    assert(hash !== undefined, `no entry at ${index} (log ${this.#describe()})`);
    return hash;
  }

  entry(index: number): Entry {
    const entry = this.#entries[this.#position(index)];
    assert(entry !== undefined, `no entry at ${index} (log ${this.#describe()})`);
    return entry;
  }

  serial(index: number): number {
    const serial = this.#serials[this.#position(index)];
    assert(serial !== undefined, `no entry at ${index} (log ${this.#describe()})`);
    return serial;
  }

  /** The first index written after `serial` (lastIndex + 1 when none was). */
  firstWrittenAfter(serial: number): number {
    let index = this.lastIndex;
    while (index > this.#base.index && this.serial(index) > serial) index--;
    return index + 1;
  }

  /** Stores contiguous `entries`, replacing whatever this log held from their first index on. */
  write(entries: readonly Entry[], serial: number): void {
    const first = entries[0];
    if (first === undefined) return;
    assert(
      first.index > this.#base.index && first.index <= this.lastIndex + 1,
      `entry ${first.index} cannot be written to log ${this.#describe()}`,
    );
    this.truncateTo(first.index - 1);
    for (const entry of entries) this.append(entry, serial);
  }

  append(entry: Entry, serial: number): void {
    assert(
      entry.index === this.lastIndex + 1,
      `entry ${entry.index} does not follow ${this.lastIndex}`,
    );
    this.#hashes.push(chainHash(this.hash(this.lastIndex), entry));
    this.#entries.push(entry);
    this.#serials.push(serial);
  }

  truncateTo(lastIndex: number): void {
    assert(
      lastIndex >= this.#base.index && lastIndex <= this.lastIndex,
      `cannot truncate log ${this.#describe()} to ${lastIndex}`,
    );
    const length = lastIndex - this.#base.index;
    this.#entries.length = length;
    this.#hashes.length = length;
    this.#serials.length = length;
  }

  /** An installed snapshot: every entry goes, and the log continues after `base`. */
  resetTo(base: LogBase, serial: number): void {
    this.truncateTo(this.#base.index);
    this.#base = base;
    this.#baseSerial = serial;
  }

  /** Local compaction: the entries through `index` go, their prefix hash stays as the base. */
  compactTo(index: number, serial: number): void {
    if (index <= this.#base.index) return;
    const base = { index, term: this.entry(index).term, hash: this.hash(index) };
    const dropped = index - this.#base.index;
    this.#entries.splice(0, dropped);
    this.#hashes.splice(0, dropped);
    this.#serials.splice(0, dropped);
    this.#base = base;
    this.#baseSerial = serial;
  }

  #position(index: number): number {
    return index - this.#base.index - 1;
  }

  #describe(): string {
    return `(${this.#base.index}, ${this.lastIndex}]`;
  }
}

/**
 * Whether `log` agrees with `reference` (a log from index 1) through `index`: compared at `index`,
 * or at the log's base if `index` is compacted away (the base hash covers the prefix before it).
 * Undefined when neither can be compared.
 */
export function agreesThrough(
  log: HashedLog,
  reference: HashedLog,
  index: number,
): boolean | undefined {
  const at = Math.max(index, log.base.index);
  if (!log.knows(at) || !reference.knows(at)) return undefined;
  return log.hash(at) === reference.hash(at);
}
