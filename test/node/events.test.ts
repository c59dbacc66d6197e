// The bounded event history behind subscribe: live delivery, filters, Last-Event-ID replay,
// 'gap' once events were dropped, misbehaving subscribers. And the same through a LockNode.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LockEvent } from '../../src/api/lock-service.js';
import { LockdError } from '../../src/errors.js';
import { EventHistory, parseEventId } from '../../src/node/events.js';
import { acquireRequest, brief, releaseRequest, startLeader } from './helpers.js';

function lockEvent(index: number, n: number, name = 'foo'): LockEvent {
  return {
    id: `${index}-${n}`,
    type: 'grant',
    name,
    owner: null,
    token: index,
    index,
    at: '2024-01-01T00:00:00.000Z',
  };
}

function history(capacity: number, maxSubscribers = 10, errors: unknown[] = []): EventHistory {
  return new EventHistory({
    capacity,
    maxSubscribers,
    onSubscriberError: (error) => errors.push(error),
  });
}

const all = { name: null, prefix: '' };
const ids = (events: readonly LockEvent[] | 'gap') =>
  events === 'gap' ? 'gap' : events.map((event) => event.id);

describe('EventHistory', () => {
  test('replays what came after Last-Event-ID, in order; none without one', () => {
    const events = history(10);
    for (const [index, n] of [
      [3, 0],
      [4, 0],
      [4, 1],
      [6, 0],
    ] as const)
      events.record(lockEvent(index, n), { index, n });
    assert.deepEqual(ids(events.subscribe(all, null, () => {}).replay), []);
    assert.deepEqual(ids(events.subscribe(all, '4-0', () => {}).replay), ['4-1', '6-0']);
    assert.deepEqual(ids(events.subscribe(all, '0-0', () => {}).replay), [
      '3-0',
      '4-0',
      '4-1',
      '6-0',
    ]);
    assert.deepEqual(ids(events.subscribe(all, '5-9', () => {}).replay), ['6-0']);
    assert.deepEqual(ids(events.subscribe(all, '6-0', () => {}).replay), []);
    assert.deepEqual(ids(events.subscribe(all, '99-0', () => {}).replay), []);
  });

  test('once an event after Last-Event-ID was dropped, the replay is a gap', () => {
    const events = history(3);
    for (let index = 1; index <= 5; index++) events.record(lockEvent(index, 0), { index, n: 0 });
    assert.equal(events.size, 3);
    // Retained: 3, 4, 5. Dropped: 1, 2.
    assert.equal(events.subscribe(all, '1-0', () => {}).replay, 'gap');
    assert.equal(events.subscribe(all, '1-5', () => {}).replay, 'gap');
    assert.deepEqual(ids(events.subscribe(all, '2-0', () => {}).replay), ['3-0', '4-0', '5-0']);
    // A state restored from a snapshot at 4: whatever entry 4 produced may be missing.
    events.markMissingThrough(4);
    assert.equal(events.subscribe(all, '3-0', () => {}).replay, 'gap');
    assert.equal(events.subscribe(all, '4-0', () => {}).replay, 'gap');
    assert.deepEqual(ids(events.subscribe(all, '5-0', () => {}).replay), []);
  });

  test('filters: one name exactly, or a prefix', () => {
    const events = history(10);
    const seen: string[] = [];
    events.subscribe({ name: 'a/1', prefix: '' }, null, (event) => seen.push(`name ${event.name}`));
    events.subscribe({ name: null, prefix: 'a/' }, null, (event) =>
      seen.push(`prefix ${event.name}`),
    );
    events.record(lockEvent(1, 0, 'a/1'), { index: 1, n: 0 });
    events.record(lockEvent(2, 0, 'a/10'), { index: 2, n: 0 });
    events.record(lockEvent(3, 0, 'b'), { index: 3, n: 0 });
    assert.deepEqual(seen, ['name a/1', 'prefix a/1', 'prefix a/10']);
    assert.deepEqual(ids(events.subscribe({ name: null, prefix: 'a/' }, '0-0', () => {}).replay), [
      '1-0',
      '2-0',
    ]);
  });

  test('unsubscribe stops delivery; a subscriber that throws is dropped and reported', () => {
    const errors: unknown[] = [];
    const events = history(10, 10, errors);
    const seen: string[] = [];
    const subscription = events.subscribe(all, null, (event) => seen.push(event.id));
    events.subscribe(all, null, () => {
      throw new Error('broken pipe');
    });
    events.record(lockEvent(1, 0), { index: 1, n: 0 });
    subscription.unsubscribe();
    events.record(lockEvent(2, 0), { index: 2, n: 0 });
    assert.deepEqual(seen, ['1-0']);
    assert.equal(errors.length, 1);
    assert.equal(events.subscriberCount, 0);
  });

  test('a malformed Last-Event-ID is a 400; too many subscribers a 429', () => {
    const events = history(10, 1);
    for (const bad of ['', '1', '1-', '-1', '01-0', '1-0-0', 'a-b', '1-1e3']) {
      assert.throws(
        () => events.subscribe(all, bad, () => {}),
        (error: unknown) => {
          assert.ok(error instanceof LockdError);
          assert.equal(error.code, 'LOCKD_ERR_BAD_REQUEST');
          return true;
        },
        bad,
      );
    }
    events.subscribe(all, null, () => {});
    assert.throws(
      () => events.subscribe(all, null, () => {}),
      (error: unknown) => {
        assert.ok(error instanceof LockdError);
        assert.equal(error.code, 'LOCKD_ERR_LIMIT_REACHED');
        assert.match(error.message, /maxSubscribers/);
        return true;
      },
    );
  });

  test('events out of order are an assertion failure', () => {
    const events = history(10);
    events.record(lockEvent(4, 1), { index: 4, n: 1 });
    assert.throws(() => events.record(lockEvent(4, 1), { index: 4, n: 1 }), /out of order/);
    assert.throws(() => events.record(lockEvent(3, 7), { index: 3, n: 7 }), /out of order/);
    assert.deepEqual(parseEventId('12-3'), { index: 12, n: 3 });
  });
});

describe('LockNode.subscribe', () => {
  test('live events in order, each with token, index and time; replay with a small history', async () => {
    const started = await startLeader({ eventHistoryCapacity: 3 });
    const { node, time } = started;
    const live: LockEvent[] = [];
    node.subscribe({ name: 'foo', prefix: '' }, null, (event) => live.push(event));
    await node.acquire(acquireRequest('foo', { owner: 'a' }));
    await node.acquire(acquireRequest('bar'));
    await node.release(releaseRequest('foo', { owner: 'a' }));
    assert.deepEqual(live, [
      {
        id: '3-0',
        type: 'grant',
        name: 'foo',
        owner: 'a',
        token: 3,
        index: 3,
        at: new Date(time.nowMs).toISOString(),
      },
      {
        id: '5-0',
        type: 'release',
        name: 'foo',
        owner: 'a',
        token: 3,
        index: 5,
        at: new Date(time.nowMs).toISOString(),
      },
    ]);
    await node.acquire(acquireRequest('baz'));
    await node.acquire(acquireRequest('qux'));
    // Capacity 3: retained 5-0, 6-0, 7-0.
    assert.equal(node.subscribe({ name: null, prefix: '' }, '3-0', () => {}).replay, 'gap');
    const replay = node.subscribe({ name: null, prefix: '' }, '4-0', () => {}).replay;
    assert.deepEqual(replay === 'gap' ? replay : brief(replay), [
      'release foo a 3 5-0',
      'grant baz - 6 6-0',
      'grant qux - 7 7-0',
    ]);
    await node.stop();
  });
});
