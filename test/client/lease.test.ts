/**
 * Leases held by the client: keepalive every ttl/3, and the signal that fires when the lease can
 * no longer be trusted (sentAt + ttl − max(ttl/10, 100 ms)), when the lock is lost, or released.
 * The fake's leases follow real time here, as the client's clock does.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { LockdClient } from '../../src/client/client.js';
import {
  LeaseExpiredError,
  LockReleasedError,
  NotLockedError,
  NotOwnerError,
} from '../../src/client/errors.js';
import { safetyMarginMs } from '../../src/client/held-lock.js';
import { LockdError } from '../../src/errors.js';
import { seedHold } from '../api/helpers.js';
import { abortedAt, realTimeService, startServer } from './helpers.js';

const ttlMs = 1_000;

function refreshCount(service: ReturnType<typeof realTimeService>, name: string): number {
  return service.calls.filter((call) => call.method === 'refresh' && call.name === name).length;
}

/** performance.now() when the service received its last acquire of `name`. */
function lastAcquireAt(service: ReturnType<typeof realTimeService>, name: string): number {
  const index = service.calls.findLastIndex(
    (call) => call.method === 'acquire' && call.name === name,
  );
  const at = service.callTimesMs[index];
  assert.ok(at !== undefined, `no acquire of ${name}`);
  return at;
}

describe('leases', () => {
  test('the margin is a tenth of the ttl, at least 100 ms', () => {
    assert.equal(safetyMarginMs(1_000), 100);
    assert.equal(safetyMarginMs(500), 100);
    assert.equal(safetyMarginMs(30_000), 3_000);
  });

  test('keepalive renews the lease every ttl/3 until release, then stops', async () => {
    const server = await startServer({ service: realTimeService() });
    try {
      const client = new LockdClient({ endpoints: [server.url] });
      const lock = await client.acquire('lease-1', { owner: 'w1', ttlMs });
      const firstTrust = lock.trustedUntilMs ?? 0;
      await server.service.until(() => refreshCount(server.service, 'lease-1') >= 3);
      assert.equal(lock.signal.aborted, false);
      assert.ok((lock.trustedUntilMs ?? 0) > firstTrust, 'the trust did not move with refreshes');
      await lock.release();
      assert.ok(lock.signal.reason instanceof LockReleasedError);
      // Another lease refreshed twice means ~2 keepalive periods passed; the released one is
      // quiet. A refresh already on the wire when release() began may still reach the server
      // (its abort only closes the client's side), so the check starts a keepalive period later,
      // at the other lease's first refresh: a keepalive still running would refresh after it.
      const other = await client.acquire('lease-1b', { ttlMs });
      await server.service.until(() => refreshCount(server.service, 'lease-1b') >= 2);
      const calls = server.service.calls;
      const firstOtherRefresh = calls.findIndex(
        (call) => call.method === 'refresh' && call.name === 'lease-1b',
      );
      const quietSinceMs = server.service.callTimesMs[firstOtherRefresh] ?? 0;
      const lateRefreshes = calls.filter(
        (call, index) =>
          call.method === 'refresh' &&
          call.name === 'lease-1' &&
          (server.service.callTimesMs[index] ?? 0) >= quietSinceMs,
      );
      assert.deepEqual(lateRefreshes, []);
      await other.release();
    } finally {
      await server.close();
    }
  });

  test('a deadline timer that fires early (a stale event-loop clock) does not end the lock', async (context) => {
    const server = await startServer({ service: realTimeService() });
    try {
      const client = new LockdClient({ endpoints: [server.url] });
      // Mocked, setTimeout fires when the test says, as a real one armed late in a busy turn of
      // the event loop fires early: before performance.now() reaches the deadline.
      context.mock.timers.enable({ apis: ['setTimeout'] });
      const lock = await client.acquire('lease-early', { owner: 'w1', ttlMs, keepAlive: false });
      const trustedUntilMs = lock.trustedUntilMs ?? 0;
      assert.ok(performance.now() < trustedUntilMs - 100, 'the acquire took most of the ttl');
      context.mock.timers.tick(ttlMs);
      assert.equal(lock.signal.aborted, false, 'ended before its trust ran out');
      context.mock.timers.reset();
      await lock.release();
    } finally {
      await server.close();
    }
  });

  for (const failure of ['503', 'hang'] as const) {
    test(`refreshes that fail (${failure}): the signal fires before the server's lease ends`, async () => {
      const server = await startServer({ service: realTimeService() });
      try {
        server.service.overrides.refresh =
          failure === 'hang'
            ? { kind: 'hang' }
            : { kind: 'throw', error: new LockdError('LOCKD_ERR_NO_LEADER', 'No leader') };
        const client = new LockdClient({
          endpoints: [server.url],
          requestTimeoutMs: 200,
          maxRetryDelayMs: 20,
        });
        const beforeAcquire = performance.now();
        const lock = await client.acquire('lease-2', { owner: 'w1', ttlMs });
        const abortTime = await abortedAt(lock.signal);
        assert.ok(lock.signal.reason instanceof LeaseExpiredError, String(lock.signal.reason));
        assert.equal(lock.signal.reason.code, 'LOCKD_CLIENT_ERR_LEASE_EXPIRED');
        // Not before sentAt + ttl − margin (sentAt came after beforeAcquire)...
        assert.ok(abortTime >= beforeAcquire + ttlMs - safetyMarginMs(ttlMs) - 1);
        // ...and before the lease the server granted (from when it received the acquire) ends.
        assert.ok(abortTime < lastAcquireAt(server.service, 'lease-2') + ttlMs, 'too late');
        assert.ok(refreshCount(server.service, 'lease-2') >= 1, 'no refresh was tried');
      } finally {
        await server.close();
      }
    });
  }

  test('a refresh answered 404 (the lock is gone): the signal fires with NotLockedError', async () => {
    const server = await startServer({ service: realTimeService() });
    try {
      const client = new LockdClient({ endpoints: [server.url] });
      const lock = await client.acquire('lease-3', { owner: 'w1', ttlMs });
      await server.service.release({ name: 'lease-3', owner: null, force: true });
      const abortTime = await abortedAt(lock.signal);
      assert.ok(lock.signal.reason instanceof NotLockedError, String(lock.signal.reason));
      assert.ok(abortTime < (lock.trustedUntilMs ?? 0), 'it waited for the trust to run out');
    } finally {
      await server.close();
    }
  });

  test('a refresh answered 409 (someone else holds it now): NotOwnerError', async () => {
    const server = await startServer({ service: realTimeService() });
    try {
      const client = new LockdClient({ endpoints: [server.url] });
      const lock = await client.acquire('lease-4', { owner: 'w1', ttlMs });
      await server.service.release({ name: 'lease-4', owner: null, force: true });
      await seedHold(server.service, 'lease-4', { owner: 'w2' });
      await abortedAt(lock.signal);
      assert.ok(lock.signal.reason instanceof NotOwnerError, String(lock.signal.reason));
      assert.equal(lock.signal.reason.holder?.owner, 'w2');
    } finally {
      await server.close();
    }
  });

  test('a wait that used up half the lease: one refresh right away restarts the trust', async () => {
    const server = await startServer({ service: realTimeService() });
    try {
      await seedHold(server.service, 'lease-5', { owner: 'first' });
      const client = new LockdClient({ endpoints: [server.url] });
      const waiting = client.acquire('lease-5', { owner: 'w1', ttlMs, waitMs: 60_000 });
      await server.service.until(() => server.service.waiterCount('lease-5') === 1);
      // The wait itself is the scenario: more than half a ttl passes in the queue.
      await delay(ttlMs * 0.6);
      const releasedAt = performance.now();
      await server.service.release({ name: 'lease-5', owner: 'first', force: false });
      const lock = await waiting;
      // The queued acquire, the holder's release that granted it, then the refresh at once.
      assert.deepEqual(server.service.callSummary(), [
        'acquire lease-5',
        'release lease-5',
        'refresh lease-5',
      ]);
      assert.ok(
        (lock.trustedUntilMs ?? 0) >= releasedAt + ttlMs - safetyMarginMs(ttlMs),
        'the trust still counts from the acquire sent before the wait',
      );
      assert.equal(lock.signal.aborted, false);
      await lock.release();
    } finally {
      await server.close();
    }
  });

  test('without a ttl: no keepalive, no deadline; an explicit refresh can add a lease', async () => {
    const server = await startServer({ service: realTimeService() });
    try {
      const client = new LockdClient({ endpoints: [server.url] });
      const lock = await client.acquire('lease-6', { owner: 'w1' });
      assert.equal(lock.ttlMs, null);
      assert.equal(lock.trustedUntilMs, null);
      const sentBefore = performance.now();
      const grant = await lock.refresh({ ttlMs: 60_000 });
      assert.equal(grant.ttlMs, 60_000);
      assert.equal(lock.ttlMs, 60_000);
      assert.ok((lock.trustedUntilMs ?? 0) >= sentBefore + 60_000 - 6_000);
      await lock.release();
      assert.ok(lock.signal.reason instanceof LockReleasedError);
    } finally {
      await server.close();
    }
  });
});
