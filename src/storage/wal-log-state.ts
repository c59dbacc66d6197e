/**
 * What WalStorage's segments say, as replaying their records builds it. The same `apply` runs on
 * open and load (replaying every record from disk) and after each save and compaction (applying
 * the records just written), so the state kept in memory is exactly what a replay would give.
 *
 * Memory: only what a batch is checked against (assertBatchFits): the hard state, the snapshot's
 * index and term, and the term of each stored entry. Entries are collected only when asked for
 * (a load), since the Raft core holds the log itself.
 *
 * Entries known only from a segment header: when old segments were deleted by a compaction, the
 * first remaining segment's header says the log ran to `lastIndex` when it began, but those
 * entries' records are gone. Replay counts them as unknown; a later compaction marker must cover
 * them, or the load fails (a segment is missing).
 */
import { type Entry, emptyHardState, type HardState } from '../raft/types.js';
import { assert } from '../util/assert.js';
import type { StoredLog } from './log-checks.js';
import {
  MarkerCause,
  RecordKind,
  type SegmentHeader,
  type SnapshotMarkerRecord,
  type WalRecord,
  walFormatVersion,
} from './wal-records.js';

/** The entries of the log that live in one segment: a contiguous range, or none. */
interface SegmentEntries {
  readonly sequence: number;
  /** The first and last index of the entries still in the log; both 0 when it holds none. */
  firstIndex: number;
  lastIndex: number;
}

export class WalLogState {
  #hardState: HardState = emptyHardState;
  #snapshotIndex = 0;
  #snapshotTerm = 0;
  /**
   * Entries snapshotIndex+1..unknownThrough are known only from a segment header (see the file
   * comment). Invariant: unknownThrough >= snapshotIndex; equal once replay is complete.
   */
  #unknownThrough = 0;
  /** #terms[i] is the term of entry unknownThrough + 1 + i. */
  #terms: number[] = [];
  /** Collected only for a load: #entries[i] is entry unknownThrough + 1 + i. */
  #entries: Entry[] | undefined;
  /** The segments in order, the current (last written) one last. */
  readonly #segments: SegmentEntries[] = [];

  constructor(options: { readonly collectEntries: boolean }) {
    this.#entries = options.collectEntries ? [] : undefined;
  }

  get hardState(): HardState {
    return this.#hardState;
  }

  get snapshotIndex(): number {
    return this.#snapshotIndex;
  }

  get snapshotTerm(): number {
    return this.#snapshotTerm;
  }

  get lastIndex(): number {
    return this.#unknownThrough + this.#terms.length;
  }

  /** The sequence number of the current segment (the last one begun). */
  get currentSequence(): number {
    const current = this.#segments.at(-1);
    assert(current !== undefined, 'no segment has begun');
    return current.sequence;
  }

  /** The entries after the snapshot; only for a state made with collectEntries. */
  get entries(): readonly Entry[] {
    assert(this.#entries !== undefined, 'this log state does not collect entries');
    assert(this.#unknownThrough === this.#snapshotIndex, 'entries are missing from the log');
    return this.#entries;
  }

  /** Stops collecting entries and lets go of those collected (the core holds the log). */
  releaseEntries(): void {
    this.#entries = undefined;
  }

  /** Why the log is incomplete once every segment is replayed, or undefined when it is whole. */
  missingEntriesProblem(): string | undefined {
    if (this.#unknownThrough === this.#snapshotIndex) return undefined;
    return (
      `entries ${this.#snapshotIndex + 1}..${this.#unknownThrough} are in no segment ` +
      '(their segments were deleted, but no snapshot covers them)'
    );
  }

  /** The term of entry `index`: the snapshot's at its index, undefined when unknown. */
  termAt(index: number): number | undefined {
    if (index === this.#snapshotIndex) return this.#snapshotTerm;
    if (index <= this.#unknownThrough) return undefined;
    return this.#terms[index - this.#unknownThrough - 1];
  }

  /** The view assertBatchFits and assertCompactionFits check against. */
  storedLog(): StoredLog {
    assert(this.#unknownThrough === this.#snapshotIndex, 'the log has unknown entries');
    return {
      hardState: this.#hardState,
      snapshotIndex: this.#snapshotIndex,
      snapshotTerm: this.#snapshotTerm,
      lastIndex: this.lastIndex,
      termAt: (index: number): number => {
        const term = index > this.#snapshotIndex ? this.termAt(index) : undefined;
        assert(term !== undefined, `no stored entry ${index}`);
        return term;
      },
    };
  }

  /** The head a new segment starts with: where the log stands now. */
  headerForNextSegment(): SegmentHeader {
    const lastIndex = this.lastIndex;
    const lastTerm = this.termAt(lastIndex);
    assert(lastTerm !== undefined, `the term of the last entry ${lastIndex} is unknown`);
    return {
      formatVersion: walFormatVersion,
      sequence: this.#segments.length === 0 ? 1 : this.currentSequence + 1,
      snapshotIndex: this.#snapshotIndex,
      snapshotTerm: this.#snapshotTerm,
      lastIndex,
      lastTerm,
    };
  }

  /**
   * Old segments a compaction may delete: the leading ones (never the current one) that hold no
   * entry of the log any more. The hard state and the snapshot marker they hold are restated by
   * the header of every later segment, so nothing else is lost with them.
   */
  deletableSegments(): number[] {
    const deletable: number[] = [];
    for (const segment of this.#segments.slice(0, -1)) {
      if (segment.lastIndex !== 0) break;
      deletable.push(segment.sequence);
    }
    return deletable;
  }

  /** Forgets the `count` oldest segments, once deleted. */
  forgetOldestSegments(count: number): void {
    assert(count < this.#segments.length, 'the current segment is never deleted');
    this.#segments.splice(0, count);
  }

  /** Applies one record; returns why it cannot follow what came before (corruption), if so. */
  apply(record: WalRecord): string | undefined {
    switch (record.kind) {
      case RecordKind.segmentHeader:
        return this.#beginSegment(record.header);
      case RecordKind.hardState:
        return this.#applyHardState(record.hardState);
      case RecordKind.entry:
        return this.#applyEntry(record.entry);
      case RecordKind.snapshotMarker:
        return record.marker.cause === MarkerCause.compaction
          ? this.#applyCompaction(record.marker)
          : this.#applyLeaderSnapshot(record.marker);
    }
  }

  #beginSegment(header: SegmentHeader): string | undefined {
    if (header.lastIndex < header.snapshotIndex) {
      return `the header ends the log at ${header.lastIndex}, before its snapshot at ${header.snapshotIndex}`;
    }
    const previous = this.#segments.at(-1);
    if (previous === undefined) {
      // The first segment replayed: the log before it is known only from its header.
      this.#snapshotIndex = header.snapshotIndex;
      this.#snapshotTerm = header.snapshotTerm;
      this.#unknownThrough = header.lastIndex;
    } else {
      const problem = this.#headerContinuesProblem(header, previous.sequence);
      if (problem !== undefined) return problem;
    }
    this.#segments.push({ sequence: header.sequence, firstIndex: 0, lastIndex: 0 });
    return undefined;
  }

  #headerContinuesProblem(header: SegmentHeader, previousSequence: number): string | undefined {
    if (header.sequence !== previousSequence + 1) {
      return `segment ${header.sequence} follows segment ${previousSequence}`;
    }
    if (
      header.snapshotIndex !== this.#snapshotIndex ||
      header.snapshotTerm !== this.#snapshotTerm
    ) {
      return (
        `the header names the snapshot at ${header.snapshotIndex} (term ${header.snapshotTerm}), ` +
        `the segments before it the one at ${this.#snapshotIndex} (term ${this.#snapshotTerm})`
      );
    }
    const lastTerm = this.termAt(this.lastIndex);
    if (
      header.lastIndex !== this.lastIndex ||
      (lastTerm !== undefined && header.lastTerm !== lastTerm)
    ) {
      return (
        `the header ends the log at ${header.lastIndex} (term ${header.lastTerm}), ` +
        `the segments before it at ${this.lastIndex} (term ${lastTerm})`
      );
    }
    return undefined;
  }

  #applyHardState(hardState: HardState): string | undefined {
    const before = this.#hardState;
    if (hardState.term < before.term || hardState.commit < before.commit) {
      return (
        `the hard state goes back from term ${before.term}, commit ${before.commit} ` +
        `to term ${hardState.term}, commit ${hardState.commit}`
      );
    }
    this.#hardState = hardState;
    return undefined;
  }

  #applyEntry(entry: Entry): string | undefined {
    const { index, term } = entry;
    const lastIndex = this.lastIndex;
    if (index <= this.#snapshotIndex || index > lastIndex + 1) {
      return `entry ${index} does not follow the log (snapshot at ${this.#snapshotIndex}, last entry ${lastIndex})`;
    }
    if (term > this.#hardState.term) {
      return `entry ${index} has term ${term}, beyond the current term ${this.#hardState.term}`;
    }
    // A follower's conflicting suffix: the stored entries from this index on are replaced.
    if (index <= lastIndex) this.#truncateFrom(index);
    const termBefore = this.termAt(index - 1);
    if (termBefore !== undefined && term < termBefore) {
      return `term drops from ${termBefore} to ${term} at entry ${index}`;
    }
    this.#terms.push(term);
    this.#entries?.push(entry);
    const current = this.#segments.at(-1);
    assert(current !== undefined, 'an entry before any segment header');
    if (current.lastIndex === 0) current.firstIndex = index;
    current.lastIndex = index;
    return undefined;
  }

  /** Drops the entries from `index` on. */
  #truncateFrom(index: number): void {
    if (index <= this.#unknownThrough) {
      this.#unknownThrough = index - 1;
      this.#terms.length = 0;
      if (this.#entries !== undefined) this.#entries.length = 0;
    } else {
      const kept = index - this.#unknownThrough - 1;
      this.#terms.length = kept;
      if (this.#entries !== undefined) this.#entries.length = kept;
    }
    // Segments hold increasing ranges, so only the newest ones can hold entries from `index` on.
    for (let position = this.#segments.length - 1; position >= 0; position--) {
      const segment = this.#segments[position];
      assert(segment !== undefined, 'segments are contiguous');
      if (segment.lastIndex === 0) continue;
      if (segment.lastIndex < index) break;
      if (segment.firstIndex >= index) {
        segment.firstIndex = 0;
        segment.lastIndex = 0;
      } else {
        segment.lastIndex = index - 1;
      }
    }
  }

  #applyCompaction(marker: SnapshotMarkerRecord): string | undefined {
    const { index, term } = marker;
    if (index <= this.#snapshotIndex || index > this.lastIndex) {
      return `a compaction at ${index} is outside the log (snapshot at ${this.#snapshotIndex}, last entry ${this.lastIndex})`;
    }
    const termThere = this.termAt(index);
    if (termThere !== undefined && termThere !== term) {
      return `a compaction at ${index} has term ${term}, the entry there term ${termThere}`;
    }
    if (index > this.#unknownThrough) {
      const dropped = index - this.#unknownThrough;
      this.#terms.splice(0, dropped);
      this.#entries?.splice(0, dropped);
      this.#unknownThrough = index;
    }
    this.#snapshotIndex = index;
    this.#snapshotTerm = term;
    for (const segment of this.#segments) {
      if (segment.lastIndex === 0) continue;
      if (segment.lastIndex <= index) {
        segment.firstIndex = 0;
        segment.lastIndex = 0;
      } else if (segment.firstIndex <= index) {
        segment.firstIndex = index + 1;
      }
    }
    return undefined;
  }

  #applyLeaderSnapshot(marker: SnapshotMarkerRecord): string | undefined {
    if (marker.index <= this.#snapshotIndex) {
      return `the leader's snapshot at ${marker.index} is not past the snapshot at ${this.#snapshotIndex}`;
    }
    this.#snapshotIndex = marker.index;
    this.#snapshotTerm = marker.term;
    this.#unknownThrough = marker.index;
    this.#terms.length = 0;
    if (this.#entries !== undefined) this.#entries.length = 0;
    for (const segment of this.#segments) {
      segment.firstIndex = 0;
      segment.lastIndex = 0;
    }
    return undefined;
  }
}
