import { assert } from '../util/assert.js';
import { ConfigHistory, emptyConfState } from './configuration.js';
import type { ConfState, Entry, Snapshot } from './types.js';
import { EntryType } from './types.js';

export interface LogStart {
  /** The snapshot the persisted entries follow, if the log was ever compacted. */
  readonly snapshot?: Snapshot | undefined;
  /** The membership before the first confChange entry, when there is no snapshot. */
  readonly bootstrap?: ConfState;
}

/**
 * The in-memory Raft log: a snapshot (the compacted prefix, if any), the entries after it, what of
 * them is committed and applied, what the host has not yet persisted, and the membership along it.
 *
 * Invariants:
 * - entries are contiguous from snapshotIndex + 1 and their terms never decrease;
 * - snapshotIndex <= applied <= committed <= lastIndex, and none of them ever decreases;
 * - no committed entry is ever truncated;
 * - every entry below `unstableFrom` is durable on the host.
 */
export class RaftLog {
  /** The latest snapshot, kept whole: a leader sends it to followers that fell behind it. */
  #snapshot: Snapshot | undefined;
  #snapshotIndex: number;
  #snapshotTerm: number;
  /** The entry with index i is at position i - snapshotIndex - 1. */
  #entries: Entry[] = [];
  #committed: number;
  /**
   * What the host has applied, or been handed to apply: after restore() it jumps to the snapshot,
   * which the next Ready hands out before any later entry.
   */
  #applied: number;
  /** The first index the host has not yet persisted. */
  #unstableFrom: number;
  /** While the host persists a Ready: the last index it was handed. */
  #persistingTo: number | undefined = undefined;
  /** While the host persists a Ready: the lowest index truncated since it was handed out. */
  #truncatedFrom: number | undefined = undefined;
  /** A snapshot from the leader, restored here and not yet handed to the host. */
  #pendingSnapshot: Snapshot | undefined = undefined;
  readonly config: ConfigHistory;

  /**
   * Starts from what the host loaded: all of it durable, nothing after the snapshot applied yet.
   * `bootstrap` is the membership before the first confChange entry when there is no snapshot.
   */
  constructor(entries: readonly Entry[], committed: number, start: LogStart = {}) {
    const snapshot = start.snapshot;
    this.#snapshot = snapshot;
    this.#snapshotIndex = snapshot?.index ?? 0;
    this.#snapshotTerm = snapshot?.term ?? 0;
    assert(
      Number.isSafeInteger(this.#snapshotIndex) && this.#snapshotIndex >= 0,
      'bad snapshot index',
    );
    assert((this.#snapshotIndex === 0) === (this.#snapshotTerm === 0), 'bad snapshot term');
    this.config = new ConfigHistory(
      this.#snapshotIndex,
      snapshot?.confState ?? start.bootstrap ?? emptyConfState,
    );
    for (const entry of entries) this.#push(entry);
    assert(
      Number.isInteger(committed) &&
        committed >= this.#snapshotIndex &&
        committed <= this.lastIndex(),
      `persisted commit ${committed} is outside the persisted log [${this.#snapshotIndex}, ${this.lastIndex()}]`,
    );
    this.#committed = committed;
    this.#applied = this.#snapshotIndex;
    this.#unstableFrom = this.lastIndex() + 1;
  }

  get committed(): number {
    return this.#committed;
  }

  get applied(): number {
    return this.#applied;
  }

  get snapshot(): Snapshot | undefined {
    return this.#snapshot;
  }

  snapshotIndex(): number {
    return this.#snapshotIndex;
  }

  /** The first index still held as an entry. */
  firstIndex(): number {
    return this.#snapshotIndex + 1;
  }

  lastIndex(): number {
    return this.#snapshotIndex + this.#entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /** Whether the term at `index` is known: it is the snapshot's last index or a held entry. */
  hasTerm(index: number): boolean {
    return index >= this.#snapshotIndex && index <= this.lastIndex();
  }

  /** The term of the entry at `index`; index 0 is the empty prefix, of term 0. */
  term(index: number): number {
    if (index === this.#snapshotIndex) return this.#snapshotTerm;
    assert(
      this.hasTerm(index),
      `no term at index ${index} (log holds [${this.#snapshotIndex}, ${this.lastIndex()}])`,
    );
    const entry = this.#entries[index - this.#snapshotIndex - 1];
    assert(entry !== undefined && entry.index === index, `entry ${index} misplaced`);
    return entry.term;
  }

  /**
   * Whether this log holds an entry at `index` with `term` (index 0 always matches). An index in
   * the compacted prefix must not be asked about: its entries are committed, callers skip them.
   */
  matchTerm(index: number, term: number): boolean {
    assert(index >= this.#snapshotIndex, `matchTerm(${index}) in the compacted prefix`);
    return index <= this.lastIndex() && this.term(index) === term;
  }

  /** §5.4.1: a log ending at (lastIndex, lastTerm) is at least as up-to-date as this one. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ownTerm = this.lastTerm();
    return lastTerm > ownTerm || (lastTerm === ownTerm && lastIndex >= this.lastIndex());
  }

  /**
   * The entries with indexes in [from, toInclusive], at most `countMax` of them and, past the
   * first, no more than `bytesMax` bytes of data in all.
   */
  slice(
    from: number,
    toInclusive: number,
    countMax: number,
    bytesMax = Number.POSITIVE_INFINITY,
  ): Entry[] {
    assert(
      from >= this.firstIndex() && toInclusive <= this.lastIndex(),
      `slice [${from}, ${toInclusive}] is outside [${this.firstIndex()}, ${this.lastIndex()}]`,
    );
    if (toInclusive < from) return [];
    const end = Math.min(toInclusive, from + countMax - 1);
    const start = from - this.#snapshotIndex - 1;
    const entries = this.#entries.slice(start, end - this.#snapshotIndex);
    if (bytesMax === Number.POSITIVE_INFINITY) return entries;
    let bytes = 0;
    let count = 0;
    for (const entry of entries) {
      bytes += entry.data.length;
      if (count > 0 && bytes > bytesMax) break;
      count++;
    }
    return entries.slice(0, count);
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
    assert(
      prevLogIndex >= this.#snapshotIndex && prevLogIndex <= this.lastIndex(),
      'appendAfter needs prevLogIndex in the log',
    );
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

  /**
   * The host took a snapshot of its state machine at `index` (applied): the entries up to it are
   * dropped, and the snapshot is kept to send to followers that need them. Returns the snapshot.
   */
  compact(index: number, data: Uint8Array): Snapshot {
    assert(
      index > this.#snapshotIndex && index <= this.#applied,
      `compact(${index}) outside (${this.#snapshotIndex}, applied ${this.#applied}]`,
    );
    assert(index < this.#unstableFrom, 'compacting entries the host has not persisted');
    const snapshot: Snapshot = {
      index,
      term: this.term(index),
      confState: this.config.at(index),
      data,
    };
    this.#entries = this.#entries.slice(index - this.#snapshotIndex);
    this.#snapshot = snapshot;
    this.#snapshotIndex = index;
    this.#snapshotTerm = snapshot.term;
    this.config.compactedTo(index);
    return snapshot;
  }

  /**
   * The leader sent a snapshot beyond this log's commit index and this log does not hold its last
   * entry: the whole log is replaced by it, and the host will be handed it (takePendingSnapshot).
   */
  restore(snapshot: Snapshot): void {
    assert(snapshot.index > this.#committed, 'restoring a snapshot the log already commits');
    assert(
      !(snapshot.index <= this.lastIndex() && this.term(snapshot.index) === snapshot.term),
      'restoring a snapshot whose last entry the log holds: commit to it instead',
    );
    if (this.#persistingTo !== undefined) {
      this.#truncatedFrom = Math.min(this.#truncatedFrom ?? this.firstIndex(), this.firstIndex());
    }
    this.#entries = [];
    this.#snapshot = snapshot;
    this.#snapshotIndex = snapshot.index;
    this.#snapshotTerm = snapshot.term;
    this.#committed = snapshot.index;
    this.#applied = snapshot.index;
    this.#unstableFrom = snapshot.index + 1;
    this.#pendingSnapshot = snapshot;
    this.config.reset(snapshot.index, snapshot.confState);
  }

  hasPendingSnapshot(): boolean {
    return this.#pendingSnapshot !== undefined;
  }

  /** Hands the restored snapshot to the host, once (a Ready carries it). */
  takePendingSnapshot(): Snapshot | undefined {
    const snapshot = this.#pendingSnapshot;
    this.#pendingSnapshot = undefined;
    return snapshot;
  }

  /** Entries the host must still persist. */
  unstableEntries(): Entry[] {
    return this.#entries.slice(this.#unstableFrom - this.#snapshotIndex - 1);
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
    this.#entries.length = index - this.#snapshotIndex - 1;
    this.config.truncatedFrom(index);
    this.#unstableFrom = Math.min(this.#unstableFrom, index);
    if (this.#persistingTo !== undefined) {
      this.#truncatedFrom = Math.min(this.#truncatedFrom ?? index, index);
    }
  }

  #push(entry: Entry): void {
    const lastIndex = this.lastIndex();
    assert(entry.index === lastIndex + 1, `log gap: entry ${entry.index} after ${lastIndex}`);
    assert(entry.term >= 1 && entry.term >= this.lastTerm(), `entry ${entry.index} term went back`);
    assert(
      entry.type === EntryType.normal ||
        entry.type === EntryType.noop ||
        entry.type === EntryType.confChange,
      'bad entry type',
    );
    this.#entries.push(entry);
    this.config.appended(entry);
  }
}
