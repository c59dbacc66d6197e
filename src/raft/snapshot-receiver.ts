import { assert } from '../util/assert.js';
import { sameConfState } from './configuration.js';
import type { InstallSnapshot, NodeId, Snapshot } from './types.js';

/**
 * A follower's side of one snapshot transfer: the chunks from one leader in one term, for one
 * snapshot, gathered in order into a buffer of the snapshot's size (bounded by the caller).
 */
export class SnapshotReceiver {
  readonly leader: NodeId;
  readonly term: number;
  readonly #first: InstallSnapshot;
  readonly #buffer: Uint8Array;
  #receivedBytes = 0;

  /** Starts from the transfer's first chunk (offset 0). */
  constructor(first: InstallSnapshot) {
    assert(first.offset === 0, 'a snapshot transfer starts at offset 0');
    this.leader = first.from;
    this.term = first.term;
    this.#first = first;
    this.#buffer = new Uint8Array(first.totalBytes);
  }

  get receivedBytes(): number {
    return this.#receivedBytes;
  }

  get index(): number {
    return this.#first.snapshot.index;
  }

  /** Whether `chunk` belongs to this transfer (same leader, term and snapshot). */
  belongs(chunk: InstallSnapshot): boolean {
    const mine = this.#first;
    return (
      chunk.from === mine.from &&
      chunk.term === mine.term &&
      chunk.totalBytes === mine.totalBytes &&
      chunk.snapshot.index === mine.snapshot.index &&
      chunk.snapshot.term === mine.snapshot.term &&
      sameConfState(chunk.snapshot.confState, mine.snapshot.confState)
    );
  }

  /**
   * Takes the chunk if it continues what is held; a duplicate or one past a gap is ignored.
   * Returns the whole snapshot once its last chunk is in.
   */
  accept(chunk: InstallSnapshot): Snapshot | undefined {
    assert(this.belongs(chunk), 'a chunk of another snapshot transfer');
    if (chunk.offset !== this.#receivedBytes) return undefined;
    this.#buffer.set(chunk.data, chunk.offset);
    this.#receivedBytes += chunk.data.length;
    if (!chunk.done) return undefined;
    assert(this.#receivedBytes === this.#buffer.length, 'the last chunk ends the snapshot');
    const { index, term, confState } = this.#first.snapshot;
    return { index, term, confState, data: this.#buffer };
  }
}
