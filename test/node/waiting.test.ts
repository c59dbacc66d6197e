// Waiting for a lock on the leader: FIFO queues, hand-off in the same entry as the release or
// expiry, no barging, wait deadlines, clients that go away (before and while a grant races them),
// bounded queues. Fake clock and timers: every step is awaited on its own promise.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AcquireResult } from '../../src/api/lock-service.js';
import { LockdError } from '../../src/errors.js';
import {
  acquireRequest,
  advance,
  brief,
  recordEvents,
  releaseRequest,
  startLeader,
} from './helpers.js';

function tokenOf(result: AcquireResult): number {
  assert.equal(result.outcome, 'acquired', JSON.stringify(result));
  return result.outcome === 'acquired' ? result.grant.token : -1;
}

function rejectsWith(code: string) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof LockdError, `expected LockdError: ${error}`);
    assert.equal(error.code, code);
    return true;
  };
}

/** Lets the node take queued requests in (each queues after its conflict comes back). */
async function settle(started: Awaited<ReturnType<typeof startLeader>>): Promise<void> {
  await advance(started, 0);
}

describe('waiting: FIFO with hand-off', () => {
  test('a release hands the lock to the head waiter in the same entry', async () => {
    const started = await startLeader();
    const { node } = started;
    const events = recordEvents(node);
    await node.acquire(acquireRequest('foo', { owner: 'a' }));
    const waiting = node.acquire(
      acquireRequest('foo', { owner: 'b', waitMs: 5_000, ttlMs: 1_000 }),
    );
    await settle(started);
    assert.deepEqual((await node.describe('foo', { stale: false }))?.waiters, [
      { owner: 'b', position: 1, waitedMs: 0 },
    ]);
    assert.deepEqual(await node.release(releaseRequest('foo', { owner: 'a' })), {
      outcome: 'released',
      name: 'foo',
      token: 3,
    });
    // Entry 4 was b's conflict; entry 5 released a and granted b (token 5): one step, no retry.
    assert.equal(tokenOf(await waiting), 5);
    assert.deepEqual(brief(events), [
      'grant foo a 3 3-0',
      'release foo a 3 5-0',
      'grant foo b 5 5-1',
    ]);
    assert.equal(node.status().waiters, 0);
    await node.stop();
  });

  test('waiters get the lock in arrival order', async () => {
    const started = await startLeader();
    const { node } = started;
    await node.acquire(acquireRequest('foo', { owner: 'holder' }));
    const order: string[] = [];
    const waiters = ['w1', 'w2', 'w3', 'w4'].map((owner) =>
      node.acquire(acquireRequest('foo', { owner, waitMs: 60_000 })).then((result) => {
        order.push(owner);
        return result;
      }),
    );
    await settle(started);
    assert.deepEqual(
      (await node.describe('foo', { stale: false }))?.waiters.map((waiter) => [
        waiter.owner,
        waiter.position,
      ]),
      [
        ['w1', 1],
        ['w2', 2],
        ['w3', 3],
        ['w4', 4],
      ],
    );
    let holder = 'holder';
    for (const next of ['w1', 'w2', 'w3', 'w4']) {
      await node.release(releaseRequest('foo', { owner: holder }));
      await settle(started);
      assert.deepEqual(
        (await node.describe('foo', { stale: false }))?.holders.map((hold) => hold.owner),
        [next],
      );
      holder = next;
    }
    await Promise.all(waiters);
    assert.deepEqual(order, ['w1', 'w2', 'w3', 'w4']);
    await node.stop();
  });

  test('an expiry hands the lock to the head waiter in the same entry', async () => {
    const started = await startLeader();
    const { node } = started;
    const events = recordEvents(node);
    await node.acquire(acquireRequest('foo', { owner: 'a', ttlMs: 1_000 }));
    const waiting = node.acquire(acquireRequest('foo', { owner: 'b', waitMs: 5_000 }));
    await settle(started);
    await advance(started, 1_000);
    assert.equal(tokenOf(await waiting), 5);
    assert.deepEqual(brief(events), [
      'grant foo a 3 3-0',
      'expire foo a 3 5-0',
      'grant foo b 5 5-1',
    ]);
    await node.stop();
  });

  test('no barging: while others queue, a request that would fit queues too (or conflicts)', async () => {
    const started = await startLeader();
    const { node } = started;
    await node.acquire(acquireRequest('s', { owner: 'r1', mode: 'shared' }));
    // An exclusive writer waits for the reader...
    const writer = node.acquire(acquireRequest('s', { owner: 'w', waitMs: 10_000 }));
    await settle(started);
    const indexBefore = node.status().commitIndex;
    // ...so a new reader, which the shared lock has room for, does not overtake it.
    assert.deepEqual(await node.acquire(acquireRequest('s', { owner: 'r2', mode: 'shared' })), {
      outcome: 'conflict',
      holders: [(await node.describe('s', { stale: false }))?.holders[0]],
    });
    assert.equal(node.status().commitIndex, indexBefore, 'answered from the queue, no entry');
    const reader = node.acquire(
      acquireRequest('s', { owner: 'r2', mode: 'shared', waitMs: 10_000 }),
    );
    await settle(started);
    await node.release(releaseRequest('s', { owner: 'r1' }));
    const writerToken = tokenOf(await writer);
    await node.release(releaseRequest('s', { owner: 'w' }));
    assert.ok(tokenOf(await reader) > writerToken);
    await node.stop();
  });

  test('the holder itself is not queued behind waiters: its retry renews at once', async () => {
    const started = await startLeader();
    const { node } = started;
    const first = await node.acquire(acquireRequest('foo', { owner: 'a', ttlMs: 1_000 }));
    const waiting = node.acquire(acquireRequest('foo', { owner: 'b', waitMs: 5_000 }));
    await settle(started);
    const retry = await node.acquire(
      acquireRequest('foo', { owner: 'a', ttlMs: 1_000, waitMs: 5_000 }),
    );
    assert.equal(tokenOf(retry), tokenOf(first));
    await node.release(releaseRequest('foo', { owner: 'a' }));
    assert.equal(tokenOf(await waiting), 6);
    await node.stop();
  });

  test('a waiter blocked by its own hold in the other mode is answered conflict at once', async () => {
    const started = await startLeader();
    const { node } = started;
    await node.acquire(acquireRequest('s', { owner: 'a', mode: 'shared' }));
    const upgrade = await node.acquire(acquireRequest('s', { owner: 'a', waitMs: 5_000 }));
    assert.equal(upgrade.outcome, 'conflict');
    assert.equal(node.status().waiters, 0);
    await node.stop();
  });
});

describe('waiting: shared locks and semaphores', () => {
  test('readers queued behind a writer all get in when it releases, in order', async () => {
    const started = await startLeader();
    const { node } = started;
    await node.acquire(acquireRequest('rw', { owner: 'writer' }));
    const readers = ['r1', 'r2', 'r3'].map((owner) =>
      node.acquire(acquireRequest('rw', { owner, mode: 'shared', waitMs: 10_000 })),
    );
    await settle(started);
    await node.release(releaseRequest('rw', { owner: 'writer' }));
    const tokens = (await Promise.all(readers)).map(tokenOf);
    // The first by hand-off (the release's own entry), the others by one acquire entry each.
    assert.deepEqual(tokens, [7, 8, 9]);
    const view = await node.describe('rw', { stale: false });
    assert.equal(view?.mode, 'shared');
    assert.deepEqual(
      view?.holders.map((hold) => hold.owner),
      ['r1', 'r2', 'r3'],
    );
    await node.stop();
  });

  test('a semaphore of 2: the third waits until one leaves', async () => {
    const started = await startLeader();
    const { node } = started;
    const permit = { mode: 'shared', limit: 2 } as const;
    await node.acquire(acquireRequest('sem', { owner: 'a', ...permit }));
    await node.acquire(acquireRequest('sem', { owner: 'b', ...permit }));
    assert.equal(
      (await node.acquire(acquireRequest('sem', { owner: 'c', ...permit }))).outcome,
      'conflict',
    );
    const third = node.acquire(acquireRequest('sem', { owner: 'c', ...permit, waitMs: 1_000 }));
    await settle(started);
    await node.release(releaseRequest('sem', { owner: 'b' }));
    tokenOf(await third);
    assert.deepEqual(
      (await node.describe('sem', { stale: false }))?.holders.map((hold) => hold.owner),
      ['a', 'c'],
    );
    await node.stop();
  });
});

describe('waiting: deadlines and limits', () => {
  test('when the wait elapses the answer is conflict, with the holders, and the queue forgets it', async () => {
    const started = await startLeader();
    const { node } = started;
    await node.acquire(acquireRequest('foo', { owner: 'a' }));
    const waiting = node.acquire(acquireRequest('foo', { owner: 'b', waitMs: 2_000 }));
    await settle(started);
    let answered = false;
    void waiting.then(() => {
      answered = true;
    });
    await advance(started, 1_999);
    assert.equal(answered, false);
    await advance(started, 1);
    const result = await waiting;
    assert.equal(result.outcome, 'conflict');
    assert.deepEqual(
      result.outcome === 'conflict' ? result.holders.map((hold) => hold.owner) : [],
      ['a'],
    );
    assert.equal(node.status().waiters, 0);
    assert.deepEqual((await node.describe('foo', { stale: false }))?.waiters, []);
    await node.stop();
  });

  test('a deadline that passes while a grant is in flight: the grant still answers it', async () => {
    const started = await startLeader();
    const { node, time } = started;
    await node.acquire(acquireRequest('foo', { owner: 'a' }));
    const waiting = node.acquire(acquireRequest('foo', { owner: 'b', waitMs: 1_000 }));
    await settle(started);
    const released = node.release(releaseRequest('foo', { owner: 'a' }));
    // The release (carrying b) is proposed; b's deadline fires before it applies.
    time.advance(1_000);
    await released;
    assert.equal(tokenOf(await waiting), 5);
    await node.stop();
  });

  test('maxWaitersPerLock → 429 naming it', async () => {
    const started = await startLeader({ limits: { maxWaitersPerLock: 2 } });
    const { node } = started;
    await node.acquire(acquireRequest('foo', { owner: 'a' }));
    const first = node.acquire(acquireRequest('foo', { owner: 'b', waitMs: 1_000 }));
    const second = node.acquire(acquireRequest('foo', { owner: 'c', waitMs: 1_000 }));
    await settle(started);
    await assert.rejects(
      node.acquire(acquireRequest('foo', { owner: 'd', waitMs: 1_000 })),
      (error: unknown) => {
        assert.ok(error instanceof LockdError);
        assert.equal(error.code, 'LOCKD_ERR_LIMIT_REACHED');
        assert.match(
          error.message,
          /^Limit reached: maxWaitersPerLock \(2 requests already wait for lock foo\)$/,
        );
        return true;
      },
    );
    await advance(started, 1_000);
    assert.equal((await first).outcome, 'conflict');
    assert.equal((await second).outcome, 'conflict');
    await node.stop();
  });

  test('stopping the node answers every waiter with 503 shutting down', async () => {
    const started = await startLeader();
    const { node } = started;
    await node.acquire(acquireRequest('foo', { owner: 'a' }));
    const waiting = node.acquire(acquireRequest('foo', { owner: 'b', waitMs: 60_000 }));
    await settle(started);
    await node.stop();
    await assert.rejects(waiting, rejectsWith('LOCKD_ERR_SHUTTING_DOWN'));
  });
});

describe('waiting: clients that go away', () => {
  test('a queued waiter whose client disconnects is removed before it could be granted', async () => {
    const started = await startLeader();
    const { node } = started;
    const events = recordEvents(node);
    await node.acquire(acquireRequest('foo', { owner: 'a' }));
    const gone = new AbortController();
    const waiting = node.acquire(
      acquireRequest('foo', { owner: 'b', waitMs: 5_000, signal: gone.signal }),
    );
    const next = node.acquire(acquireRequest('foo', { owner: 'c', waitMs: 5_000 }));
    await settle(started);
    gone.abort();
    await assert.rejects(waiting, rejectsWith('LOCKD_ERR_BAD_REQUEST'));
    assert.deepEqual(
      (await node.describe('foo', { stale: false }))?.waiters.map((waiter) => waiter.owner),
      ['c'],
    );
    await node.release(releaseRequest('foo', { owner: 'a' }));
    assert.equal(tokenOf(await next), 6);
    assert.deepEqual(brief(events), [
      'grant foo a 3 3-0',
      'release foo a 3 6-0',
      'grant foo c 6 6-1',
    ]);
    await node.stop();
  });

  test('grant vs disconnect: a hand-off that raced the disconnect is released at once', async () => {
    const started = await startLeader();
    const { node } = started;
    const events = recordEvents(node);
    await node.acquire(acquireRequest('foo', { owner: 'a' }));
    const gone = new AbortController();
    const waiting = node.acquire(
      acquireRequest('foo', { owner: 'b', waitMs: 5_000, signal: gone.signal }),
    );
    const next = node.acquire(acquireRequest('foo', { owner: 'c', waitMs: 5_000 }));
    await settle(started);
    const released = node.release(releaseRequest('foo', { owner: 'a' }));
    // The release carrying b is in flight when b's client goes.
    gone.abort();
    await released;
    await assert.rejects(waiting, rejectsWith('LOCKD_ERR_BAD_REQUEST'));
    // b's grant was released by token at once, handing the lock on to c in the same entry.
    assert.equal(tokenOf(await next), 7);
    assert.deepEqual(brief(events), [
      'grant foo a 3 3-0',
      'release foo a 3 6-0',
      'grant foo b 6 6-1',
      'release foo b 6 7-0',
      'grant foo c 7 7-1',
    ]);
    await node.stop();
  });

  test('grant vs disconnect without waiting: the fresh grant is released at once', async () => {
    const started = await startLeader();
    const { node } = started;
    const events = recordEvents(node);
    const gone = new AbortController();
    const acquiring = node.acquire(acquireRequest('foo', { owner: 'a', signal: gone.signal }));
    gone.abort();
    await assert.rejects(acquiring, rejectsWith('LOCKD_ERR_BAD_REQUEST'));
    await settle(started);
    assert.equal(await node.describe('foo', { stale: false }), undefined);
    assert.deepEqual(brief(events), ['grant foo a 3 3-0', 'release foo a 3 4-0']);
    await node.stop();
  });

  test('a retry of the holder that disconnects does not release the hold it already had', async () => {
    const started = await startLeader();
    const { node } = started;
    await node.acquire(acquireRequest('foo', { owner: 'a', ttlMs: 5_000 }));
    const gone = new AbortController();
    const retry = node.acquire(
      acquireRequest('foo', { owner: 'a', ttlMs: 5_000, signal: gone.signal }),
    );
    gone.abort();
    assert.equal(tokenOf(await retry), 3);
    await settle(started);
    assert.deepEqual(
      (await node.describe('foo', { stale: false }))?.holders.map((hold) => hold.token),
      [3],
    );
    await node.stop();
  });

  test('a client already gone is refused before anything is proposed', async () => {
    const started = await startLeader();
    const { node } = started;
    const gone = new AbortController();
    gone.abort();
    const before = node.status().commitIndex;
    await assert.rejects(
      node.acquire(acquireRequest('foo', { signal: gone.signal })),
      rejectsWith('LOCKD_ERR_BAD_REQUEST'),
    );
    assert.equal(node.status().commitIndex, before);
    await node.stop();
  });
});
