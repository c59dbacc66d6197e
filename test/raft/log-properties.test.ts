/**
 * Property tests of the log's rules against naive models (fast-check, fixed seeds).
 *
 * Logs are generated so that they obey Log Matching (§5.3) against the leader's: the leader's
 * log uses even terms, a follower's divergent suffix odd ones, so two entries of the same index
 * and term exist only in the common prefix.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  applyConfChange,
  confState,
  decodeConfChangeEntry,
  encodeConfChangeEntry,
} from '../../src/raft/configuration.js';
import { RaftLog } from '../../src/raft/log.js';
import type { ConfChangeType, Entry } from '../../src/raft/types.js';
import { AssertionError } from '../../src/util/assert.js';
import { entry } from './helpers.js';

/** Non-decreasing terms from `first`, each step 0 or +2 (so parity is kept). */
const terms = (first: number, maxLength: number) =>
  fc.array(fc.boolean(), { maxLength }).map((steps) => {
    let term = first;
    return steps.map((step) => {
      if (step) term += 2;
      return term;
    });
  });

interface Case {
  /** The leader's log, as terms (even). */
  readonly leader: readonly number[];
  /** The follower's log: the first `common` of the leader's, then a divergent suffix (odd). */
  readonly follower: readonly number[];
  readonly common: number;
  readonly committed: number;
  /** The AppendEntries: prevLogIndex and how many of the leader's entries follow it. */
  readonly prev: number;
  readonly count: number;
}

const cases: fc.Arbitrary<Case> = terms(2, 12)
  .filter((leader) => leader.length >= 1)
  .chain((leader) =>
    fc.nat({ max: leader.length }).chain((common) => {
      const lastCommon = leader[common - 1] ?? 2;
      return terms(lastCommon + 1, 8).chain((tail) => {
        const follower = [...leader.slice(0, common), ...tail];
        return fc.nat({ max: common }).chain((committed) =>
          fc.integer({ min: committed, max: common }).chain((prev) =>
            fc.nat({ max: leader.length - prev }).map((count) => ({
              leader,
              follower,
              common,
              committed,
              prev,
              count,
            })),
          ),
        );
      });
    }),
  );

function entriesOf(termList: readonly number[]): Entry[] {
  return termList.map((term, position) => entry(position + 1, term, `${position + 1}@${term}`));
}

/** §5.3 in plain words: keep what matches, and from the first conflict take the leader's. */
function naiveAppend(
  follower: readonly Entry[],
  leader: readonly Entry[],
  prev: number,
  count: number,
): Entry[] {
  const result = [...follower];
  for (let index = prev + 1; index <= prev + count; index++) {
    const mine = result[index - 1];
    const theirs = leader[index - 1];
    if (theirs === undefined) throw new Error('bad case');
    if (mine !== undefined && mine.term === theirs.term) continue;
    return [...result.slice(0, index - 1), ...leader.slice(index - 1, prev + count)];
  }
  return result;
}

const describeLog = (log: RaftLog) =>
  log.lastIndex() < log.firstIndex()
    ? []
    : log.slice(log.firstIndex(), log.lastIndex(), 1000).map((e) => `${e.index}@${e.term}`);

describe('log properties', () => {
  test('appendAfter agrees with the naive rule, and the result matches the leader up to the new entries', () => {
    fc.assert(
      fc.property(cases, ({ leader, follower, committed, prev, count }) => {
        const leaderEntries = entriesOf(leader);
        const followerEntries = entriesOf(follower);
        const log = new RaftLog(followerEntries, committed);
        const sent = leaderEntries.slice(prev, prev + count);
        assert.equal(
          log.matchTerm(prev, leader[prev - 1] ?? 0),
          true,
          'the consistency check passes',
        );
        assert.equal(log.appendAfter(prev, sent), prev + count);
        const expected = naiveAppend(followerEntries, leaderEntries, prev, count);
        assert.deepEqual(
          describeLog(log),
          expected.map((e) => `${e.index}@${e.term}`),
        );
        // Log Matching with the leader, up to the last new entry.
        for (let index = 1; index <= prev + count; index++) {
          assert.equal(log.term(index), leader[index - 1]);
        }
        assert.equal(log.committed, committed, 'the commit index does not move by appending');
      }),
      { seed: 101, numRuns: 3000 },
    );
  });

  test('appendAfter marks for persisting exactly what changed, and never a committed entry', () => {
    fc.assert(
      fc.property(cases, ({ leader, follower, committed, prev, count }) => {
        const log = new RaftLog(entriesOf(follower), committed);
        log.appendAfter(prev, entriesOf(leader).slice(prev, prev + count));
        const unstable = log.unstableEntries();
        const first = unstable[0];
        if (first === undefined) return;
        assert.ok(first.index > committed);
        for (let index = 1; index < first.index; index++) {
          assert.equal(log.term(index), follower[index - 1], 'below the first unstable: untouched');
        }
      }),
      { seed: 102, numRuns: 3000 },
    );
  });

  test('a conflict at or below the commit index is refused (an assertion: it cannot happen in Raft)', () => {
    fc.assert(
      fc.property(
        terms(2, 10).filter((log) => log.length >= 1),
        fc.nat(),
        (termList, pick) => {
          const committed = 1 + (pick % termList.length);
          const log = new RaftLog(entriesOf(termList), committed);
          const conflictAt = 1 + (pick % committed);
          const conflicting = entry(conflictAt, (termList[conflictAt - 1] ?? 0) + 1);
          assert.throws(() => log.appendAfter(conflictAt - 1, [conflicting]), AssertionError);
        },
      ),
      { seed: 103, numRuns: 1000 },
    );
  });

  test('firstIndexOfTermAt is the start of the run of equal terms, above the commit index', () => {
    fc.assert(
      fc.property(
        terms(2, 20).filter((log) => log.length >= 1),
        fc.nat(),
        fc.nat(),
        (termList, commitPick, indexPick) => {
          const committed = commitPick % termList.length;
          const index = committed + 1 + (indexPick % (termList.length - committed));
          const log = new RaftLog(entriesOf(termList), committed);
          let expected = index;
          while (expected - 1 > committed && termList[expected - 2] === termList[index - 1])
            expected--;
          assert.equal(log.firstIndexOfTermAt(index), expected);
        },
      ),
      { seed: 104, numRuns: 2000 },
    );
  });

  test('compaction changes no term, slice or bound above the snapshot', () => {
    fc.assert(
      fc.property(
        terms(2, 20).filter((log) => log.length >= 2),
        fc.nat(),
        (termList, pick) => {
          const entries = entriesOf(termList);
          const log = new RaftLog(entries, termList.length);
          log.appliedTo(termList.length);
          const before = describeLog(log);
          const at = 1 + (pick % termList.length);
          const snapshot = log.compact(at, new Uint8Array(0));
          assert.deepEqual([snapshot.index, snapshot.term], [at, termList[at - 1]]);
          assert.deepEqual([log.firstIndex(), log.lastIndex()], [at + 1, termList.length]);
          for (let index = at; index <= termList.length; index++) {
            assert.equal(log.term(index), termList[index - 1]);
          }
          assert.deepEqual(describeLog(log), before.slice(at));
          assert.throws(() => log.term(at - 1), AssertionError);
        },
      ),
      { seed: 105, numRuns: 1000 },
    );
  });

  test('slice honours its count and byte bounds, and always carries at least one entry', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 50 }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 200 }),
        (sizes, countMax, bytesMax) => {
          const entries = sizes.map((size, position) => ({
            ...entry(position + 1, 2),
            data: new Uint8Array(size),
          }));
          const log = new RaftLog(entries, 0);
          const slice = log.slice(1, entries.length, countMax, bytesMax);
          assert.ok(slice.length >= 1 && slice.length <= countMax);
          const total = slice.reduce((sum, e) => sum + e.data.length, 0);
          assert.ok(slice.length === 1 || total <= bytesMax);
          const next = entries[slice.length];
          if (slice.length < countMax && next !== undefined) {
            assert.ok(total + next.data.length > bytesMax, 'it stops only at a bound');
          }
        },
      ),
      { seed: 106, numRuns: 2000 },
    );
  });
});

describe('membership record properties', () => {
  const changeTypes: ConfChangeType[] = [
    'add-learner',
    'promote-learner',
    'remove-voter',
    'remove-learner',
  ];
  const memberships = fc
    .uniqueArray(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 9 })
    .chain((ids) =>
      fc.nat({ max: ids.length - 1 }).map((learnerCount) => {
        const voters = ids.slice(learnerCount);
        return confState(
          voters.length > 0 ? voters : ids,
          voters.length > 0 ? ids.slice(0, learnerCount) : [],
        );
      }),
    );

  test('every valid change round-trips through its entry encoding', () => {
    fc.assert(
      fc.property(
        memberships,
        fc.constantFrom(...changeTypes),
        fc.integer({ min: 1, max: 50 }),
        (state, type, node) => {
          const change = { type, node };
          const applied = applyConfChange(state, change);
          if (!applied.ok) return;
          const record = { change, confState: applied.confState };
          assert.deepEqual(decodeConfChangeEntry(encodeConfChangeEntry(record)), record);
        },
      ),
      { seed: 107, numRuns: 2000 },
    );
  });

  test('decoding arbitrary bytes never throws, and any record it accepts is well formed', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (data) => {
        const record = decodeConfChangeEntry(data);
        if (record === undefined) return;
        assert.doesNotThrow(() => confState(record.confState.voters, record.confState.learners));
      }),
      { seed: 108, numRuns: 3000 },
    );
  });
});
