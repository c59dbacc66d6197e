// The waiting room on its own: FIFO queues, the hand-off bookkeeping while a grant is in flight,
// deadlines, disconnects and leadership loss (which the single-node LockNode cannot reach yet).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AcquireResult, Grant } from '../../src/api/lock-service.js';
import { LockdError } from '../../src/errors.js';
import type { GrantRequest } from '../../src/locks/commands.js';
import { WaitingRoom } from '../../src/node/waiters.js';
import { FakeTime } from './fake-time.js';

const request = (owner: string): GrantRequest => ({
  owner,
  ttlMs: null,
  mode: 'exclusive',
  limit: null,
  maxLocks: 10,
  maxHoldersPerLock: 10,
});

const grant = (owner: string, token: number): Grant => ({
  name: 'foo',
  owner,
  token,
  mode: 'exclusive',
  ttlMs: null,
  acquiredAt: '2024-01-01T00:00:00.000Z',
  expiresAt: null,
});

function room(maxWaitersPerLock = 10) {
  const time = new FakeTime(0);
  const changed: string[] = [];
  const waiting = new WaitingRoom({
    scheduler: time,
    clock: time.clock,
    maxWaitersPerLock,
    conflictNow: () => ({ outcome: 'conflict', holders: [] }),
    onQueueChanged: (name) => changed.push(name),
  });
  return { time, changed, waiting };
}

/** Records how a waiter's promise settled. */
function track(promise: Promise<AcquireResult>): { outcome: string } {
  const state = { outcome: 'pending' };
  promise.then(
    (result) => {
      state.outcome =
        result.outcome === 'acquired' ? `acquired ${result.grant.token}` : result.outcome;
    },
    (error: unknown) => {
      state.outcome = error instanceof LockdError ? error.code : String(error);
    },
  );
  return state;
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('WaitingRoom', () => {
  test('heads come out in arrival order, one take at a time', async () => {
    const { waiting } = room();
    const signal = new AbortController().signal;
    const b = track(waiting.wait('foo', request('b'), signal, 1_000));
    const c = track(waiting.wait('foo', request('c'), signal, 1_000));
    const head = waiting.takeHead('foo');
    assert.equal(head?.owner, 'b');
    assert.equal(waiting.takeHead('foo'), null, 'the head is in flight: nothing else to take');
    assert.equal(waiting.peekHead('foo'), undefined);
    assert.equal(waiting.grantOutcome(head?.waiterId ?? -1, grant('b', 5)), 'taken');
    assert.equal(waiting.takeHead('foo')?.owner, 'c');
    await flush();
    assert.deepEqual([b.outcome, c.outcome], ['acquired 5', 'pending']);
    assert.deepEqual(
      waiting.views('foo').map((view) => view.owner),
      ['c'],
    );
  });

  test('a grant that did not fit leaves the waiter at the head', () => {
    const { waiting } = room();
    void waiting.wait('foo', request('b'), new AbortController().signal, 1_000);
    const head = waiting.takeHead('foo');
    assert.equal(waiting.grantOutcome(head?.waiterId ?? -1, null), 'none');
    assert.equal(waiting.peekHead('foo')?.request.owner, 'b');
  });

  test('a deadline that passes while queued answers conflict and tells the node', async () => {
    const { waiting, time, changed } = room();
    const b = track(waiting.wait('foo', request('b'), new AbortController().signal, 500));
    void waiting.wait('foo', request('c'), new AbortController().signal, 900);
    time.advance(500);
    await flush();
    assert.equal(b.outcome, 'conflict');
    assert.deepEqual(changed, ['foo']);
    assert.deepEqual(
      waiting.views('foo').map((view) => [view.owner, view.position, view.waitedMs]),
      [['c', 1, 500]],
    );
  });

  test('a deadline that passes while a grant is in flight waits for its outcome', async () => {
    const { waiting, time } = room();
    const b = track(waiting.wait('foo', request('b'), new AbortController().signal, 500));
    const head = waiting.takeHead('foo');
    time.advance(600);
    await flush();
    assert.equal(b.outcome, 'pending');
    assert.equal(waiting.grantOutcome(head?.waiterId ?? -1, grant('b', 9)), 'taken');
    await flush();
    assert.equal(b.outcome, 'acquired 9');
  });

  test('a deadline passed and the grant did not come: conflict then', async () => {
    const { waiting, time } = room();
    const b = track(waiting.wait('foo', request('b'), new AbortController().signal, 500));
    const head = waiting.takeHead('foo');
    time.advance(600);
    waiting.grantOutcome(head?.waiterId ?? -1, null);
    await flush();
    assert.equal(b.outcome, 'conflict');
    assert.equal(waiting.size, 0);
  });

  test('a disconnect while a grant is in flight: the grant is refused (the node releases it)', async () => {
    const { waiting } = room();
    const gone = new AbortController();
    const b = track(waiting.wait('foo', request('b'), gone.signal, 500));
    const head = waiting.takeHead('foo');
    gone.abort();
    await flush();
    assert.equal(b.outcome, 'pending');
    assert.equal(waiting.grantOutcome(head?.waiterId ?? -1, grant('b', 9)), 'refused');
    await flush();
    assert.equal(b.outcome, 'LOCKD_ERR_BAD_REQUEST');
  });

  test('leadership lost: every waiter gets 503 NOT_LEADER; a grant arriving later is refused', async () => {
    const { waiting } = room();
    const signal = new AbortController().signal;
    const b = track(waiting.wait('foo', request('b'), signal, 500));
    const c = track(waiting.wait('bar', request('c'), signal, 500));
    const head = waiting.takeHead('foo');
    waiting.rejectAll(new LockdError('LOCKD_ERR_NOT_LEADER', 'Leadership moved'));
    await flush();
    assert.deepEqual([b.outcome, c.outcome], ['LOCKD_ERR_NOT_LEADER', 'LOCKD_ERR_NOT_LEADER']);
    assert.equal(waiting.size, 0);
    assert.equal(waiting.grantOutcome(head?.waiterId ?? -1, grant('b', 9)), 'refused');
    assert.equal(waiting.grantOutcome(head?.waiterId ?? -1, null), 'none');
  });

  test('a full queue refuses with 429 maxWaitersPerLock; an aborted signal with client gone', () => {
    const { waiting } = room(1);
    void waiting.wait('foo', request('b'), new AbortController().signal, 500);
    assert.throws(
      () => waiting.wait('foo', request('c'), new AbortController().signal, 500),
      /maxWaitersPerLock/,
    );
    const gone = new AbortController();
    gone.abort();
    assert.throws(() => waiting.wait('bar', request('c'), gone.signal, 500), /client went away/);
    assert.equal(waiting.count('foo'), 1);
    assert.equal(waiting.count('bar'), 0);
  });
});
