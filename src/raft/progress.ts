import { assert } from '../util/assert.js';

/**
 * The leader's view of one follower's log, after etcd's tracker.Progress.
 *
 * - probe: the leader does not know where the follower's log matches its own. It sends one
 *   AppendEntries at a time and waits for the answer (or the next heartbeat) before the next.
 * - replicate: the follower is known to match up to `match`. The leader streams entries,
 *   advancing `next` optimistically, with at most `maxInflight` messages unacknowledged.
 *
 * Invariant: 0 <= match < next.
 */
export type ProgressState = 'probe' | 'replicate';

export class Progress {
  /** The highest index known to be replicated on the follower. */
  match = 0;
  /** The index of the next entry to send. */
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: a probe is outstanding, so nothing more is sent until it is answered. */
  probeSent = false;
  readonly inflights: Inflights;

  constructor(next: number, maxInflight: number) {
    assert(Number.isInteger(next) && next >= 1, `bad next index ${next}`);
    this.next = next;
    this.inflights = new Inflights(maxInflight);
  }

  isPaused(): boolean {
    return this.state === 'probe' ? this.probeSent : this.inflights.isFull();
  }

  becomeProbe(): void {
    this.state = 'probe';
    this.probeSent = false;
    this.inflights.reset();
    this.#assertInvariants();
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.probeSent = false;
    this.next = this.match + 1;
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
   * A rejection arrived with the follower's hint (its last index, or the first index of the term
   * that conflicts). Step `next` back to it, never below match + 1 (known to be good) and always
   * by at least one unless it is already there.
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
