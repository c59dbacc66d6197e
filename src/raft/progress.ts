import { assert } from '../util/assert.js';

/**
 * The leader's view of one follower's log, after etcd's tracker.Progress.
 *
 * - probe: the leader does not know where the follower's log matches its own. It sends one
 *   AppendEntries at a time and waits for the answer (or the next heartbeat) before the next.
 * - replicate: the follower is known to match up to `match`. The leader streams entries,
 *   advancing `next` optimistically, with at most `maxInflight` messages unacknowledged.
 * - snapshot: the follower needs entries the leader has compacted away. The leader sends its
 *   snapshot in chunks (see SnapshotTransfer) and no AppendEntries until it is installed.
 *
 * Invariant: 0 <= match < next.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  /** The highest index known to be replicated on the follower. */
  match = 0;
  /** The index of the next entry to send. */
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: a probe is outstanding, so nothing more is sent until it is answered. */
  probeSent = false;
  readonly inflights: Inflights;
  /** In snapshot state: the transfer under way. */
  snapshot: SnapshotTransfer | undefined = undefined;
  /** Ticks since the follower last answered anything: CheckQuorum counts the recent ones. */
  ticksSinceHeard = 0;
  /** Learners receive the log but do not vote or count towards commitment. */
  isLearner: boolean;
  /** The commit index the last AppendEntries to the follower carried. */
  commitSent = 0;

  constructor(next: number, maxInflight: number, isLearner = false) {
    assert(Number.isInteger(next) && next >= 1, `bad next index ${next}`);
    this.next = next;
    this.inflights = new Inflights(maxInflight);
    this.isLearner = isLearner;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.isFull();
      case 'snapshot':
        return true;
    }
  }

  becomeProbe(): void {
    this.state = 'probe';
    this.probeSent = false;
    this.snapshot = undefined;
    this.inflights.reset();
    this.#assertInvariants();
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.probeSent = false;
    this.snapshot = undefined;
    this.next = this.match + 1;
    this.inflights.reset();
    this.#assertInvariants();
  }

  becomeSnapshot(transfer: SnapshotTransfer): void {
    this.state = 'snapshot';
    this.probeSent = false;
    this.snapshot = transfer;
    this.inflights.reset();
    this.#assertInvariants();
  }

  /** An acknowledgement up to `index` arrived. Returns true if it taught us something new. */
  maybeUpdate(index: number): boolean {
    const updated = index > this.match;
    if (updated) this.match = index;
    this.next = Math.max(this.next, index + 1);
    this.inflights.freeTo(index);
    this.#assertInvariants();
    return updated;
  }

  /**
   * A rejection arrived with the follower's hint: the index to send from next (just past its log,
   * or the start of the term that conflicts). Step `next` back to it, never below match + 1 (known
   * to be good) and always by at least one unless it is already there.
   */
  decreaseTo(rejectHint: number): void {
    this.next = Math.max(this.match + 1, Math.min(rejectHint, this.next - 1));
    this.probeSent = false;
    this.#assertInvariants();
  }

  /** An AppendEntries carrying entries up to `lastIndex` (or none, if undefined) was sent. */
  sent(lastIndex: number | undefined): void {
    if (this.state === 'probe') {
      this.probeSent = true;
    } else if (lastIndex !== undefined) {
      assert(this.state === 'replicate', 'no AppendEntries in snapshot state');
      assert(lastIndex >= this.next, 'replicate sends must advance next');
      this.next = lastIndex + 1;
      this.inflights.add(lastIndex);
    }
    this.#assertInvariants();
  }

  #assertInvariants(): void {
    assert(
      this.match >= 0 && this.next > this.match,
      `progress match ${this.match} next ${this.next}`,
    );
    assert((this.state === 'snapshot') === (this.snapshot !== undefined), 'snapshot state');
  }
}

/**
 * The sending side of one snapshot transfer: the snapshot is cut into chunks of `chunkBytes`,
 * sent in order with at most `windowChunks` unacknowledged. The follower keeps only the chunk that
 * continues what it holds and reports how many bytes it holds, so a lost chunk is sent again from
 * there (go-back-N) when the leader sees no progress over a heartbeat.
 */
export class SnapshotTransfer {
  readonly index: number;
  readonly totalBytes: number;
  readonly chunkBytes: number;
  readonly windowChunks: number;
  /** How many chunks make the snapshot: one, even for empty data. */
  readonly chunkCount: number;
  /** The next chunk to send. */
  nextChunk = 0;
  /** The follower holds every chunk below this one, as far as the leader knows. */
  ackedChunks = 0;
  /** What the follower's latest answer said it holds, which may be less after it restarts. */
  reportedChunks = 0;
  /** ackedChunks at the previous heartbeat, to tell a stalled transfer from a slow one. */
  ackedAtLastHeartbeat = -1;

  constructor(options: {
    index: number;
    totalBytes: number;
    chunkBytes: number;
    windowChunks: number;
  }) {
    assert(options.chunkBytes >= 1 && options.windowChunks >= 1, 'bad snapshot transfer bounds');
    this.index = options.index;
    this.totalBytes = options.totalBytes;
    this.chunkBytes = options.chunkBytes;
    this.windowChunks = options.windowChunks;
    this.chunkCount = Math.max(1, Math.ceil(options.totalBytes / options.chunkBytes));
  }

  /** The next chunk to send now, or undefined if all are sent or the window is full. */
  takeChunk(): { offset: number; end: number; done: boolean } | undefined {
    if (this.nextChunk >= this.chunkCount) return undefined;
    if (this.nextChunk - this.ackedChunks >= this.windowChunks) return undefined;
    const offset = this.nextChunk * this.chunkBytes;
    const end = Math.min(this.totalBytes, offset + this.chunkBytes);
    this.nextChunk++;
    return { offset, end, done: this.nextChunk === this.chunkCount };
  }

  /** The follower reports holding `receivedBytes` from offset 0. */
  acknowledge(receivedBytes: number): void {
    const chunks =
      receivedBytes >= this.totalBytes
        ? this.chunkCount - 1 // Every byte, but the install (the done chunk) is still to come.
        : Math.floor(receivedBytes / this.chunkBytes);
    this.reportedChunks = Math.min(chunks, this.chunkCount);
    this.ackedChunks = Math.max(this.ackedChunks, this.reportedChunks);
    this.nextChunk = Math.max(this.nextChunk, this.ackedChunks);
  }

  /**
   * A heartbeat went by. If nothing was acknowledged since the last one, chunks were lost, or the
   * follower lost what it held (it restarted, say): send again from where it last said it was.
   */
  heartbeat(): void {
    if (this.ackedChunks === this.ackedAtLastHeartbeat) {
      this.ackedChunks = this.reportedChunks;
      this.nextChunk = this.ackedChunks;
    }
    this.ackedAtLastHeartbeat = this.ackedChunks;
  }
}

/**
 * A bounded FIFO of the last index of each AppendEntries sent in replicate state and not yet
 * acknowledged. Acknowledgements are cumulative, so an ack of index i frees every message <= i.
 */
export class Inflights {
  readonly #capacity: number;
  #lastIndexes: number[] = [];

  constructor(capacity: number) {
    assert(Number.isInteger(capacity) && capacity >= 1, `bad inflight capacity ${capacity}`);
    this.#capacity = capacity;
  }

  get count(): number {
    return this.#lastIndexes.length;
  }

  isFull(): boolean {
    return this.#lastIndexes.length >= this.#capacity;
  }

  add(lastIndex: number): void {
    assert(!this.isFull(), 'inflights overflow');
    const previous = this.#lastIndexes.at(-1);
    assert(previous === undefined || lastIndex > previous, 'inflight indexes must increase');
    this.#lastIndexes.push(lastIndex);
  }

  freeTo(index: number): void {
    let freed = 0;
    while (freed < this.#lastIndexes.length && (this.#lastIndexes[freed] ?? 0) <= index) freed++;
    if (freed > 0) this.#lastIndexes = this.#lastIndexes.slice(freed);
  }

  reset(): void {
    this.#lastIndexes = [];
  }
}
