/**
 * Checks shared by every RaftStorage: a batch is checked before it is written (a bad batch is a bug
 * in the caller, so these are assertions), and a loaded state is verified after it is read back (a
 * bad state is corruption on disk, so that is a StorageCorruptError naming where it was found).
 */
import {
  type Entry,
  EntryType,
  type HardState,
  noNode,
  type PersistedState,
} from '../raft/types.js';
import { assert } from '../util/assert.js';
import type { StorageBatch } from './storage.js';

/** No ready batch is this large; a bigger one means a runaway loop upstream. */
export const storageBatchEntriesMax = 65_536;

/** Thrown when stored data breaks the log's invariants. Never retried: a human must look. */
export class StorageCorruptError extends Error {
  override readonly name = 'StorageCorruptError';
  /** The data directory (or `memory`) that holds the bad data. */
  readonly location: string;

  constructor(location: string, detail: string) {
    super(`lockd storage in ${location} is corrupt: ${detail}`);
    this.location = location;
  }
}

/** What a batch is checked against: the state already stored. */
export interface StoredLog {
  readonly hardState: HardState;
  readonly lastIndex: number;
  /** The term of the stored entry at `index`, for 1 <= index <= lastIndex. */
  termAt(index: number): number;
}

export function assertBatchFits(batch: StorageBatch, stored: StoredLog): void {
  const hardState = batch.hardState ?? stored.hardState;
  if (batch.hardState !== undefined) assertHardStateFollows(stored.hardState, batch.hardState);
  const { entries } = batch;
  assert(entries.length <= storageBatchEntriesMax, `batch of ${entries.length} entries`);
  const first = entries[0];
  if (first === undefined) {
    assert(
      hardState.commit <= stored.lastIndex,
      `commit ${hardState.commit} is beyond the last stored index ${stored.lastIndex}`,
    );
    return;
  }
  assert(first.index >= 1, `batch starts at index ${first.index}`);
  assert(
    first.index <= stored.lastIndex + 1,
    `batch starts at index ${first.index} but the log ends at ${stored.lastIndex}: a gap`,
  );
  const termBefore = first.index > 1 ? stored.termAt(first.index - 1) : 0;
  let previous: { index: number; term: number } = { index: first.index - 1, term: termBefore };
  for (const entry of entries) {
    assertEntryWellFormed(entry);
    assert(
      entry.index === previous.index + 1,
      `batch jumps from ${previous.index} to ${entry.index}`,
    );
    assert(entry.term >= previous.term, `term drops from ${previous.term} at index ${entry.index}`);
    assert(entry.term <= hardState.term, `entry term ${entry.term} > current ${hardState.term}`);
    if (entry.index <= Math.min(stored.lastIndex, stored.hardState.commit)) {
      assert(
        stored.termAt(entry.index) === entry.term,
        `batch replaces committed entry ${entry.index} with one of another term`,
      );
    }
    previous = entry;
  }
  assert(
    hardState.commit <= previous.index,
    `commit ${hardState.commit} is beyond the batch's last index ${previous.index}`,
  );
}

function assertHardStateFollows(before: HardState, after: HardState): void {
  for (const value of [after.term, after.vote, after.commit]) {
    assert(Number.isSafeInteger(value) && value >= 0, `hard state field ${value} is not valid`);
  }
  assert(after.term >= before.term, `term goes back from ${before.term} to ${after.term}`);
  assert(
    after.commit >= before.commit,
    `commit goes back from ${before.commit} to ${after.commit}`,
  );
  assert(
    after.term > before.term || before.vote === noNode || after.vote === before.vote,
    `vote in term ${after.term} changes from ${before.vote} to ${after.vote}`,
  );
}

function assertEntryWellFormed(entry: Entry): void {
  assert(Number.isSafeInteger(entry.index) && entry.index >= 1, `entry index ${entry.index}`);
  assert(Number.isSafeInteger(entry.term) && entry.term >= 1, `entry term ${entry.term}`);
  assert(
    entry.type === EntryType.normal || entry.type === EntryType.noop,
    `entry ${entry.index} has unknown type ${entry.type}`,
  );
  assert(
    entry.type !== EntryType.noop || entry.data.length === 0,
    `noop entry ${entry.index} carries ${entry.data.length} bytes`,
  );
}

/** Throws StorageCorruptError unless `state` is a log any correct node could have written. */
export function verifyPersistedState(state: PersistedState, location: string): void {
  const { hardState, entries } = state;
  let previousTerm = 0;
  for (const [position, entry] of entries.entries()) {
    const expectedIndex = position + 1;
    if (entry.index !== expectedIndex) {
      throw new StorageCorruptError(
        location,
        `entry ${expectedIndex} is missing (found index ${entry.index} in its place)`,
      );
    }
    if (entry.term < previousTerm) {
      throw new StorageCorruptError(
        location,
        `term drops from ${previousTerm} to ${entry.term} at entry ${entry.index}`,
      );
    }
    previousTerm = entry.term;
  }
  if (hardState.commit > entries.length) {
    throw new StorageCorruptError(
      location,
      `commit index ${hardState.commit} is beyond the last entry ${entries.length}`,
    );
  }
  if (previousTerm > hardState.term) {
    throw new StorageCorruptError(
      location,
      `the last entry's term ${previousTerm} is beyond the current term ${hardState.term}`,
    );
  }
}
