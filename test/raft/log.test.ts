import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RaftLog } from '../../src/raft/log.js';
import { AssertionError } from '../../src/util/assert.js';
import { entry, log } from './helpers.js';

const indexesAndTerms = (entries: readonly { index: number; term: number }[]) =>
  entries.map((e) => [e.index, e.term]);

describe('RaftLog', () => {
  test('term, lastIndex, lastTerm and matchTerm, with index 0 as the empty prefix', () => {
    const raftLog = new RaftLog(log([1, 1, 2]), 0);
    assert.deepEqual([raftLog.lastIndex(), raftLog.lastTerm(), raftLog.term(0)], [3, 2, 0]);
    assert.equal(raftLog.matchTerm(0, 0), true);
    assert.equal(raftLog.matchTerm(3, 2), true);
    assert.equal(raftLog.matchTerm(3, 1), false);
    assert.equal(raftLog.matchTerm(4, 2), false);
    assert.throws(() => raftLog.term(4), AssertionError);
  });

  test('§5.4.1 isUpToDate compares last terms, then lengths', () => {
    const raftLog = new RaftLog(log([1, 2, 2]), 0);
    assert.equal(raftLog.isUpToDate(1, 3), true);
    assert.equal(raftLog.isUpToDate(3, 2), true);
    assert.equal(raftLog.isUpToDate(2, 2), false);
    assert.equal(raftLog.isUpToDate(9, 1), false);
  });

  test('§5.3 appendAfter skips what matches and replaces a conflicting suffix', () => {
    const raftLog = new RaftLog(log([1, 1, 1, 1]), 1);
    assert.equal(raftLog.appendAfter(1, [entry(2, 1), entry(3, 1)]), 3);
    assert.equal(raftLog.lastIndex(), 4, 'nothing conflicted: the tail stays');
    assert.deepEqual(raftLog.unstableEntries(), []);
    assert.equal(raftLog.appendAfter(2, [entry(3, 1), entry(4, 2), entry(5, 2)]), 5);
    assert.deepEqual(indexesAndTerms(raftLog.unstableEntries()), [
      [4, 2],
      [5, 2],
    ]);
    assert.deepEqual(indexesAndTerms(raftLog.slice(1, 5, 100)), [
      [1, 1],
      [2, 1],
      [3, 1],
      [4, 2],
      [5, 2],
    ]);
  });

  test('a committed entry is never truncated', () => {
    const raftLog = new RaftLog(log([1, 1, 1]), 2);
    assert.throws(() => raftLog.appendAfter(1, [entry(2, 2)]), AssertionError);
  });

  test('the leader path only appends at the end, terms never decrease', () => {
    const raftLog = new RaftLog(log([1, 2]), 0);
    assert.throws(() => raftLog.append([entry(2, 2)]), AssertionError);
    assert.throws(() => raftLog.append([entry(4, 2)]), AssertionError);
    assert.throws(() => raftLog.append([entry(3, 1)]), AssertionError);
    raftLog.append([entry(3, 2)]);
    assert.equal(raftLog.lastIndex(), 3);
  });

  test('firstIndexOfTermAt finds the start of a term run, above the commit index', () => {
    const raftLog = new RaftLog(log([1, 1, 2, 2, 2, 4, 4]), 0);
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7].map((index) => raftLog.firstIndexOfTermAt(index)),
      [1, 1, 3, 3, 3, 6, 6],
    );
    const committed = new RaftLog(log([2, 2, 2, 2]), 2);
    assert.equal(committed.firstIndexOfTermAt(4), 3);
  });

  test('commit and applied only move forward and keep applied <= commit <= last', () => {
    const raftLog = new RaftLog(log([1, 1, 1]), 1);
    raftLog.commitTo(3);
    assert.throws(() => raftLog.commitTo(2), AssertionError);
    assert.throws(() => raftLog.commitTo(4), AssertionError);
    raftLog.appliedTo(2);
    assert.throws(() => raftLog.appliedTo(1), AssertionError);
    assert.deepEqual(
      raftLog.nextCommittedEntries(10).map((e) => e.index),
      [3],
    );
  });

  test('unstable entries become stable once persisted, except those replaced meanwhile', () => {
    const raftLog = new RaftLog([], 0);
    raftLog.append(log([1, 1, 1]));
    raftLog.persisting(3);
    raftLog.appendAfter(1, [entry(2, 2)]);
    raftLog.persisted();
    assert.deepEqual(indexesAndTerms(raftLog.unstableEntries()), [[2, 2]]);
    raftLog.persisting(2);
    raftLog.persisted();
    assert.equal(raftLog.hasUnstableEntries(), false);
  });
});
