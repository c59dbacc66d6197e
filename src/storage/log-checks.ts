/**
 * Checks shared by every RaftStorage: a batch is checked before it is written (a bad batch is a bug
 * in the caller, so these are assertions), and a loaded state is verified after it is read back (a
 * bad state is corruption on disk, so that is a StorageCorruptError naming where it was found).
 */
import { decodeConfChangeEntry } from '../raft/configuration.js';
import {
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  noNode,
  type PersistedState,
  type Snapshot,
} from '../raft/types.js';
import { AssertionError, assert } from '../util/assert.js';
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
  /** The snapshot the log follows (0 when the log was never compacted), and its term. */
  readonly snapshotIndex: number;
  readonly snapshotTerm: number;
  /** The index of the last stored entry; snapshotIndex when the log after it is empty. */
  readonly lastIndex: number;
  /** The term of the stored entry at `index`, for snapshotIndex < index <= lastIndex. */
  termAt(index: number): number;
}

/** The term at `index` in `stored`, the snapshot's own index included (0 before any entry). */
function storedTermAt(stored: StoredLog, index: number): number {
  if (index === stored.snapshotIndex) return stored.snapshotTerm;
  assert(index > stored.snapshotIndex, `entry ${index} is compacted into the snapshot`);
  return stored.termAt(index);
}

export function assertBatchFits(batch: StorageBatch, storedBefore: StoredLog): void {
  const stored =
    batch.snapshot === undefined ? storedBefore : afterSnapshot(batch.snapshot, storedBefore);
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
  assert(
    first.index > stored.snapshotIndex,
    `batch starts at index ${first.index}, inside the snapshot at ${stored.snapshotIndex}`,
  );
  assert(
    first.index <= stored.lastIndex + 1,
    `batch starts at index ${first.index} but the log ends at ${stored.lastIndex}: a gap`,
  );
  const termBefore = storedTermAt(stored, first.index - 1);
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
        storedTermAt(stored, entry.index) === entry.term,
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

/** The stored log once a snapshot from the leader replaced it: the snapshot, no entries. */
function afterSnapshot(snapshot: Snapshot, stored: StoredLog): StoredLog {
  assertSnapshotWellFormed(snapshot);
  assert(
    snapshot.index > stored.snapshotIndex,
    `snapshot at ${snapshot.index} is not past the stored one at ${stored.snapshotIndex}`,
  );
  return {
    hardState: stored.hardState,
    snapshotIndex: snapshot.index,
    snapshotTerm: snapshot.term,
    lastIndex: snapshot.index,
    termAt: (index) => {
      throw new AssertionError(`no entry ${index} after a snapshot at ${snapshot.index}`);
    },
  };
}

/** The host's own snapshot may cover only committed entries that are stored. */
export function assertCompactionFits(snapshot: Snapshot, stored: StoredLog): void {
  assertSnapshotWellFormed(snapshot);
  assert(
    snapshot.index > stored.snapshotIndex,
    `compaction at ${snapshot.index} is not past the snapshot at ${stored.snapshotIndex}`,
  );
  assert(
    snapshot.index <= Math.min(stored.lastIndex, stored.hardState.commit),
    `compaction at ${snapshot.index} beyond the stored commit ${stored.hardState.commit}`,
  );
  assert(
    stored.termAt(snapshot.index) === snapshot.term,
    `compaction at ${snapshot.index} has term ${snapshot.term}, the entry there another`,
  );
}

function assertSnapshotWellFormed(snapshot: Snapshot): void {
  const problem = snapshotProblem(snapshot);
  assert(problem === undefined, `snapshot at ${snapshot.index}: ${problem}`);
}

/** Why `snapshot` is not one a correct node could have written, or undefined when it is. */
function snapshotProblem(snapshot: Snapshot): string | undefined {
  if (!Number.isSafeInteger(snapshot.index) || snapshot.index < 1) return 'index is not positive';
  if (!Number.isSafeInteger(snapshot.term) || snapshot.term < 1) return 'term is not positive';
  if (!(snapshot.data instanceof Uint8Array)) return 'data is not bytes';
  return confStateProblem(snapshot.confState);
}

function confStateProblem(state: ConfState | undefined): string | undefined {
  if (typeof state !== 'object' || state === null) return 'no membership';
  const { voters, learners } = state;
  if (!Array.isArray(voters) || !Array.isArray(learners)) return 'membership lists are missing';
  const all: unknown[] = [...voters, ...learners];
  if (!all.every((id) => Number.isSafeInteger(id) && (id as number) >= 1)) {
    return 'a member id is not a positive integer';
  }
  if (new Set(all).size !== all.length) return 'a member is listed twice';
  if (voters.length === 0) return 'the membership has no voter';
  return undefined;
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
  const problem = entryProblem(entry);
  assert(problem === undefined, `entry ${entry.index}: ${problem}`);
}

/** Why an entry's type and data do not go together, or undefined when they do. */
function entryProblem(entry: Entry): string | undefined {
  switch (entry.type) {
    case EntryType.normal:
      return undefined;
    case EntryType.noop:
      return entry.data.length === 0 ? undefined : `a noop carries ${entry.data.length} bytes`;
    case EntryType.confChange:
      return decodeConfChangeEntry(entry.data) === undefined
        ? 'a membership change whose record cannot be read'
        : undefined;
    default:
      return `unknown type ${String(entry.type)}`;
  }
}

/** Throws StorageCorruptError unless `state` is a log any correct node could have written. */
export function verifyPersistedState(state: PersistedState, location: string): void {
  const { hardState, entries, snapshot } = state;
  if (snapshot !== undefined) {
    const problem = snapshotProblem(snapshot);
    if (problem !== undefined) {
      throw new StorageCorruptError(location, `snapshot at ${snapshot.index}: ${problem}`);
    }
  }
  const snapshotIndex = snapshot?.index ?? 0;
  let previousTerm = snapshot?.term ?? 0;
  for (const [position, entry] of entries.entries()) {
    const expectedIndex = snapshotIndex + position + 1;
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
    const problem = entryProblem(entry);
    if (problem !== undefined) {
      throw new StorageCorruptError(location, `entry ${entry.index}: ${problem}`);
    }
    previousTerm = entry.term;
  }
  const lastIndex = snapshotIndex + entries.length;
  if (hardState.commit > lastIndex) {
    throw new StorageCorruptError(
      location,
      `commit index ${hardState.commit} is beyond the last entry ${lastIndex}`,
    );
  }
  if (previousTerm > hardState.term) {
    throw new StorageCorruptError(
      location,
      `the last entry's term ${previousTerm} is beyond the current term ${hardState.term}`,
    );
  }
}
