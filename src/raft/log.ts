import { assert } from '../util/assert.js';
import { type Entry, EntryType } from './types.js';

/**
 * The in-memory Raft log: every entry from index 1 (there are no snapshots yet), what of it is
 * committed and applied, and what the host has not yet persisted.
 *
 * Invariants:
 * - entries are contiguous from index 1 and their terms never decrease;
 * - applied <= committed <= lastIndex, and neither ever decreases;
 * - no committed entry is ever truncated;
 * - every entry below `unstableFrom` is durable on the host.
 */
export class RaftLog {
  /** The entry with index i is at position i - 1. */
  #entries: Entry[];
  #committed: number;
  #applied = 0;
  /** The first index the host has not yet persisted. */
  #unstableFrom: number;
  /** While the host persists a Ready: the last index it was handed. */
  #persistingTo: number | undefined = undefined;
  /** While the host persists a Ready: the lowest index truncated since it was handed out. */
  #truncatedFrom: number | undefined = undefined;

  /** Starts from what the host loaded: all of it durable, none of it applied yet. */
  constructor(persisted: readonly Entry[], committed: number) {
    this.#entries = [];
    for (const entry of persisted) this.#push(entry);
    assert(
      Number.isInteger(committed) && committed >= 0 && committed <= this.lastIndex(),
      `persisted commit ${committed} is beyond the persisted log (last index ${this.lastIndex()})`,
    );
    this.#committed = committed;
    this.#unstableFrom = this.lastIndex() + 1;
  }

  get committed(): number {
    return this.#committed;
  }

  get applied(): number {
    return this.#applied;
  }

  lastIndex(): number {
    return this.#entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /** The term of the entry at `index`; index 0 is the empty prefix, of term 0. */
  term(index: number): number {
    if (index === 0) return 0;
    const entry = this.#entries[index - 1];
    assert(entry !== undefined, `no entry at index ${index} (last index ${this.lastIndex()})`);
    return entry.term;
  }

  /** Whether this log holds an entry at `index` with `term` (index 0 always matches). */
  matchTerm(index: number, term: number): boolean {
    return index <= this.lastIndex() && this.term(index) === term;
  }

  /** §5.4.1: a log ending at (lastIndex, lastTerm) is at least as up-to-date as this one. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ownTerm = this.lastTerm();
    return lastTerm > ownTerm || (lastTerm === ownTerm && lastIndex >= this.lastIndex());
  }

  /** The entries with indexes in [from, toInclusive], at most `countMax` of them. */
  slice(from: number, toInclusive: number, countMax: number): Entry[] {
    assert(
      from >= 1 && toInclusive <= this.lastIndex(),
      `slice [${from}, ${toInclusive}] is out of range`,
    );
    if (toInclusive < from) return [];
    const end = Math.min(toInclusive, from + countMax - 1);
    return this.#entries.slice(from - 1, end);
  }

  /** The leader's path: new entries go at the end, and nothing is ever overwritten. */
  append(entries: readonly Entry[]): void {
    for (const entry of entries) this.#push(entry);
  }

  /**
   * The follower's path (§5.3): entries that follow a consistency-checked prevLogIndex. Entries it
   * already holds are skipped; at the first one whose term differs, the existing suffix is deleted
   * and the rest appended. Returns the index of the last entry of `entries` (now in the log).
   */
  appendAfter(prevLogIndex: number, entries: readonly Entry[]): number {
    assert(prevLogIndex <= this.lastIndex(), 'appendAfter needs prevLogIndex in the log');
    let position = 0;
    while (position < entries.length) {
      const entry = entries[position];
      assert(
        entry !== undefined && entry.index === prevLogIndex + position + 1,
        'entries not contiguous',
      );
      if (!this.matchTerm(entry.index, entry.term)) break;
      position++;
    }
    const rest = entries.slice(position);
    const first = rest[0];
    if (first !== undefined && first.index <= this.lastIndex()) this.#truncateFrom(first.index);
    this.append(rest);
    return prevLogIndex + entries.length;
  }

  /**
   * The first index, above the commit index, of the run of entries that share the term of the
   * entry at `index`: the follower's rejection hint that lets a leader skip a whole term (§5.3).
   * Terms never decrease along the log, so a binary search finds it.
   */
  firstIndexOfTermAt(index: number): number {
    const term = this.term(index);
    let low = this.#committed + 1;
    let high = index;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      if (this.term(middle) < term) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  commitTo(index: number): void {
    assert(index <= this.lastIndex(), `commit ${index} beyond last index ${this.lastIndex()}`);
    assert(index >= this.#committed, `commit must never decrease (${this.#committed} -> ${index})`);
    this.#committed = index;
  }

  appliedTo(index: number): void {
    assert(index >= this.#applied, `applied must never decrease (${this.#applied} -> ${index})`);
    assert(index <= this.#committed, `applied ${index} beyond commit ${this.#committed}`);
    this.#applied = index;
  }

  /** Entries the host must still persist. */
  unstableEntries(): Entry[] {
    return this.#entries.slice(this.#unstableFrom - 1);
  }

  hasUnstableEntries(): boolean {
    return this.#unstableFrom <= this.lastIndex();
  }

  /** The host starts persisting the unstable entries up to `index` (those of a Ready). */
  persisting(index: number): void {
    assert(index <= this.lastIndex(), `persisting ${index} beyond last index ${this.lastIndex()}`);
    this.#persistingTo = index;
    this.#truncatedFrom = undefined;
  }

  /**
   * The host made durable what persisting() announced. Entries replaced in the meantime (a
   * follower's conflict) do not count: only those below the lowest truncation are the ones it wrote.
   */
  persisted(): void {
    const handedTo = this.#persistingTo;
    assert(handedTo !== undefined, 'persisted() without persisting()');
    const durableTo = Math.min(handedTo, (this.#truncatedFrom ?? handedTo + 1) - 1);
    if (durableTo >= this.#unstableFrom) this.#unstableFrom = durableTo + 1;
    this.#persistingTo = undefined;
    this.#truncatedFrom = undefined;
  }

  /** Committed entries not yet handed out for applying, at most `countMax` of them. */
  nextCommittedEntries(countMax: number): Entry[] {
    return this.slice(this.#applied + 1, this.#committed, countMax);
  }

  hasNextCommittedEntries(): boolean {
    return this.#committed > this.#applied;
  }

  #truncateFrom(index: number): void {
    assert(index > this.#committed, `truncating at ${index} would drop committed entries`);
    assert(index <= this.lastIndex(), 'nothing to truncate');
    this.#entries.length = index - 1;
    this.#unstableFrom = Math.min(this.#unstableFrom, index);
    if (this.#persistingTo !== undefined) {
      this.#truncatedFrom = Math.min(this.#truncatedFrom ?? index, index);
    }
  }

  #push(entry: Entry): void {
    const lastIndex = this.lastIndex();
    assert(entry.index === lastIndex + 1, `log gap: entry ${entry.index} after ${lastIndex}`);
    assert(entry.term >= 1 && entry.term >= this.lastTerm(), `entry ${entry.index} term went back`);
    assert(entry.type === EntryType.normal || entry.type === EntryType.noop, 'bad entry type');
    this.#entries.push(entry);
  }
}
