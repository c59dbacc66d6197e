import { assert } from '../util/assert.js';

/** Pure majority arithmetic, kept apart so that it can be checked against a naive model. */

/** The number of voters that makes a majority of `voterCount`. */
export function quorumSize(voterCount: number): number {
  assert(Number.isInteger(voterCount) && voterCount >= 1, `bad voter count ${voterCount}`);
  return Math.floor(voterCount / 2) + 1;
}

export function hasQuorum(count: number, voterCount: number): boolean {
  assert(Number.isInteger(count) && count >= 0 && count <= voterCount, `bad count ${count}`);
  return count >= quorumSize(voterCount);
}

/**
 * The highest log index stored on a majority of voters, given each voter's match index (the
 * leader's own is its last index). It is the quorum-th largest of them.
 */
export function committedIndex(matchIndexes: readonly number[]): number {
  assert(matchIndexes.length >= 1, 'committedIndex needs at least one voter');
  const descending = [...matchIndexes].sort((a, b) => b - a);
  const index = descending[quorumSize(matchIndexes.length) - 1];
  assert(index !== undefined && Number.isInteger(index) && index >= 0, 'bad match index');
  return index;
}

export type VoteResult = 'won' | 'lost' | 'pending';

/** The outcome of an election so far, from the votes granted and denied among `voterCount`. */
export function voteResult(granted: number, denied: number, voterCount: number): VoteResult {
  assert(granted + denied <= voterCount, 'more votes than voters');
  if (hasQuorum(granted, voterCount)) return 'won';
  if (!hasQuorum(voterCount - denied, voterCount)) return 'lost';
  return 'pending';
}
