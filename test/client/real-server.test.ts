/**
 * The TypeScript client against a real lockd process (durable, single node): the whole path from
 * the client's API to the fsync'd log and back, including leases, waiting hand-off, events and
 * failover from a dead endpoint.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LockConflictError, LockdClient, NotOwnerError } from '../../src/client/index.js';
import type { LockdProcess } from '../support/lockd-process.js';
import {
  findFreePort,
  killHard,
  makeTemporaryDirectory,
  startLockd,
} from '../support/lockd-process.js';

describe('client against a real lockd', () => {
  const directory = makeTemporaryDirectory();
  let lockd: LockdProcess;
  let client: LockdClient;

  before(async () => {
    lockd = await startLockd(['--data-dir', join(directory.path, 'data')]);
    // The first endpoint has nothing listening: every call must fail over to the second.
    const deadPort = await findFreePort();
    client = new LockdClient({ endpoints: [`http://127.0.0.1:${deadPort}`, lockd.url] });
  });

  after(async () => {
    await killHard(lockd);
    directory.remove();
  });

  test('acquire → conflict → check → release, with fencing tokens that increase', async () => {
    const first = await client.acquire('orders', { owner: 'worker-a', ttlMs: 5_000 });
    assert.equal(first.owner, 'worker-a');
    assert.equal(first.mode, 'exclusive');
    await assert.rejects(client.acquire('orders', { owner: 'worker-b' }), LockConflictError);
    const view = await client.check('orders');
    assert.deepEqual(
      view?.holders.map((holder) => [holder.owner, holder.token]),
      [['worker-a', first.token]],
    );
    await assert.rejects(client.release('orders', { owner: 'worker-b' }), NotOwnerError);
    await first.release();
    assert.equal(first.signal.aborted, true);
    assert.equal(await client.check('orders'), undefined);
    const second = await client.acquire('orders', { owner: 'worker-b', ttlMs: 5_000 });
    assert.ok(second.token > first.token, `token ${second.token} must exceed ${first.token}`);
    await second.release();
  });

  test('a waiting acquire is handed the lock when the holder releases it', async () => {
    const holder = await client.acquire('queue', { owner: 'holder', ttlMs: 10_000 });
    const waiting = client.acquire('queue', { owner: 'waiter', ttlMs: 10_000, waitMs: 10_000 });
    // The waiter must be queued before the release; the view shows when it is (bounded poll).
    for (let attempt = 0; attempt < 200; attempt++) {
      const view = await client.check('queue');
      if (view !== undefined && view.waiters.length === 1) break;
    }
    assert.deepEqual(
      (await client.check('queue'))?.waiters.map((waiter) => waiter.owner),
      ['waiter'],
    );
    await holder.release();
    const handed = await waiting;
    assert.equal(handed.owner, 'waiter');
    assert.ok(handed.token > holder.token);
    await handed.release();
  });

  test('watch sees the grant and the release of a lock, in order, with their tokens', async () => {
    // Replaying from the start of the retained history makes the test independent of when the
    // stream is registered relative to the grant.
    const events = client.watch({ name: 'watched', lastEventId: '0-0' });
    const seen: string[] = [];
    const reading = (async () => {
      for await (const event of events) {
        seen.push(`${event.type}:${event.owner}:${event.token}`);
        if (seen.length === 2) break;
      }
    })();
    const held = await client.acquire('watched', { owner: 'w', ttlMs: 5_000 });
    await held.release();
    await reading;
    assert.deepEqual(seen, [`grant:w:${held.token}`, `release:w:${held.token}`]);
  });

  test('a lease that is not refreshed expires: the leader proposes the expiry and the lock frees', async () => {
    const lease = await client.acquire('leased', {
      owner: 'sleepy',
      ttlMs: 1_000,
      keepAlive: false,
    });
    for await (const event of client.watch({ name: 'leased', lastEventId: '0-0' })) {
      if (event.type === 'expire') {
        assert.equal(event.token, lease.token);
        break;
      }
    }
    assert.equal(await client.check('leased'), undefined);
    assert.equal(
      lease.signal.aborted,
      true,
      'the client stopped trusting the lease before it ended',
    );
  });
});
