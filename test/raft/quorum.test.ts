import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { committedIndex, hasQuorum, quorumSize, voteResult } from '../../src/raft/quorum.js';

/** The definition, straight: the highest index that at least a majority of voters have reached. */
function naiveCommittedIndex(matchIndexes: readonly number[]): number {
  let best = 0;
  for (const candidate of matchIndexes) {
    const reached = matchIndexes.filter((match) => match >= candidate).length;
    if (reached * 2 > matchIndexes.length && candidate > best) best = candidate;
  }
  return best;
}

const matchIndexes = fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 9 });

describe('quorum', () => {
  test('committedIndex agrees with the naive definition', () => {
    fc.assert(
      fc.property(
        matchIndexes,
        (matches) => committedIndex(matches) === naiveCommittedIndex(matches),
      ),
      { seed: 42, numRuns: 2000 },
    );
  });

  test('committedIndex is stored on a majority, and nothing higher is', () => {
    fc.assert(
      fc.property(matchIndexes, (matches) => {
        const index = committedIndex(matches);
        const atOrAbove = matches.filter((match) => match >= index).length;
        const above = matches.filter((match) => match > index).length;
        return hasQuorum(atOrAbove, matches.length) && !hasQuorum(above, matches.length);
      }),
      { seed: 43, numRuns: 2000 },
    );
  });

  test('committedIndex never decreases when a voter acknowledges more', () => {
    fc.assert(
      fc.property(matchIndexes, fc.nat(), fc.nat({ max: 100 }), (matches, which, more) => {
        const position = which % matches.length;
        const raised = matches.map((match, index) => (index === position ? match + more : match));
        return committedIndex(raised) >= committedIndex(matches);
      }),
      { seed: 44, numRuns: 2000 },
    );
  });

  test('voteResult agrees with counting', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }).chain((voters) =>
          fc.tuple(
            fc.constant(voters),
            fc
              .nat({ max: voters })
              .chain((granted) =>
                fc.tuple(fc.constant(granted), fc.nat({ max: voters - granted })),
              ),
          ),
        ),
        ([voters, [granted, denied]]) => {
          const majority = Math.floor(voters / 2) + 1;
          const expected =
            granted >= majority ? 'won' : voters - denied < majority ? 'lost' : 'pending';
          return voteResult(granted, denied, voters) === expected;
        },
      ),
      { seed: 45, numRuns: 2000 },
    );
  });

  test('quorum sizes of the usual clusters', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 7].map(quorumSize), [1, 2, 2, 3, 3, 4]);
  });
});
