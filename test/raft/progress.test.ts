import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Inflights, Progress } from '../../src/raft/progress.js';
import { AssertionError } from '../../src/util/assert.js';

describe('Progress', () => {
  test('probe sends one message at a time; an acknowledgement switches to replicate', () => {
    const progress = new Progress(5, 2);
    assert.equal(progress.isPaused(), false);
    progress.sent(7);
    assert.equal(progress.isPaused(), true);
    assert.equal(progress.next, 5, 'a probe does not advance next');
    assert.equal(progress.maybeUpdate(7), true);
    progress.becomeReplicate();
    assert.deepEqual([progress.state, progress.match, progress.next], ['replicate', 7, 8]);
  });

  test('replicate streams up to the inflight bound, freed by cumulative acknowledgements', () => {
    const progress = new Progress(1, 2);
    progress.becomeReplicate();
    progress.sent(3);
    progress.sent(6);
    assert.deepEqual([progress.next, progress.isPaused()], [7, true]);
    progress.maybeUpdate(3);
    assert.deepEqual([progress.inflights.count, progress.isPaused()], [1, false]);
    assert.equal(progress.maybeUpdate(2), false, 'a stale acknowledgement teaches nothing');
    assert.equal(progress.next, 7);
  });

  test('a rejection steps next back to the hint, never to or below match', () => {
    const progress = new Progress(20, 2);
    progress.maybeUpdate(5);
    progress.decreaseTo(12);
    assert.equal(progress.next, 12);
    progress.decreaseTo(15);
    assert.equal(progress.next, 11, 'a hint above next - 1 still steps back by one');
    progress.decreaseTo(0);
    assert.equal(progress.next, 6);
    progress.decreaseTo(0);
    assert.equal(progress.next, 6);
  });

  test('inflights are bounded and increasing', () => {
    const inflights = new Inflights(2);
    inflights.add(4);
    assert.throws(() => inflights.add(4), AssertionError);
    inflights.add(9);
    assert.throws(() => inflights.add(10), AssertionError);
    inflights.freeTo(8);
    assert.equal(inflights.count, 1);
    inflights.freeTo(100);
    assert.equal(inflights.count, 0);
  });
});
