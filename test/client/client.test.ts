/** The client's calls against a real server over the fake service: results, errors, failover. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LockdClient } from '../../src/client/client.js';
import {
  AbortedError,
  ConnectionError,
  InvalidArgumentError,
  LockConflictError,
  LockReleasedError,
  NotLockedError,
  NotOwnerError,
  RequestTimeoutError,
  ResponseError,
  UnavailableError,
} from '../../src/client/errors.js';
import { LockdError } from '../../src/errors.js';
import { FakeLockService } from '../api/fake-lock-service.js';
import { seedHold } from '../api/helpers.js';
import { deadEndpoint, type RunningServer, recordingFetch, startServer } from './helpers.js';

describe('calls', () => {
  let server: RunningServer;
  let client: LockdClient;

  before(async () => {
    server = await startServer();
    client = new LockdClient({ endpoints: [server.url] });
  });
  after(() => server.close());

  test('acquire → a held lock with the grant; release → the signal fires, the lock is free', async () => {
    const lock = await client.acquire('calls-1', { owner: 'w1', ttlMs: 60_000, keepAlive: false });
    const [holder] = server.service.holders('calls-1');
    assert.deepEqual(
      [lock.name, lock.owner, lock.token, lock.mode, lock.ttlMs, lock.expiresAt, lock.acquiredAt],
      ['calls-1', 'w1', holder?.token, 'exclusive', 60_000, holder?.expiresAt, holder?.acquiredAt],
    );
    assert.equal(lock.signal.aborted, false);
    await lock.release();
    assert.ok(lock.signal.reason instanceof LockReleasedError);
    assert.equal(lock.signal.reason.code, 'LOCKD_CLIENT_ERR_RELEASED');
    assert.deepEqual(server.service.holders('calls-1'), []);
    // Releasing again finds nothing, which is not an error for a held lock.
    await lock.release();
  });

  test('each acquire is its own owner unless told; the same owner again gets the same token', async () => {
    const first = await client.acquire('calls-2', { keepAlive: false });
    assert.match(first.owner, /^[0-9a-f-]{36}$/);
    const conflict = await client.acquire('calls-2').catch((error: unknown) => error);
    assert.ok(conflict instanceof LockConflictError);
    assert.equal(conflict.code, 'LOCKD_ERR_LOCK_CONFLICT');
    assert.equal(conflict.status, 409);
    assert.equal(conflict.holder?.owner, first.owner);
    assert.equal(conflict.holder?.token, first.token);
    const again = await client.acquire('calls-2', { owner: first.owner, keepAlive: false });
    assert.equal(again.token, first.token);
    await first.release();
  });

  test('a lock held anonymously: LockConflictError without a holder', async () => {
    await seedHold(server.service, 'calls-3');
    const conflict = await client.acquire('calls-3').catch((error: unknown) => error);
    assert.ok(conflict instanceof LockConflictError);
    assert.equal(conflict.holder, null);
  });

  test('shared locks up to their limit', async () => {
    const options = { mode: 'shared', limit: 2, keepAlive: false } as const;
    const a = await client.acquire('calls-4', options);
    const b = await client.acquire('calls-4', options);
    assert.equal(b.mode, 'shared');
    await assert.rejects(client.acquire('calls-4', options), LockConflictError);
    await Promise.all([a.release(), b.release()]);
  });

  test('a waiting acquire gets the lock when it is released', async () => {
    await seedHold(server.service, 'calls-5', { owner: 'other' });
    const waiting = client.acquire('calls-5', { owner: 'w2', waitMs: 60_000, keepAlive: false });
    await server.service.until(() => server.service.waiterCount('calls-5') === 1);
    await server.service.release({ name: 'calls-5', owner: 'other', force: false });
    const lock = await waiting;
    assert.equal(lock.owner, 'w2');
    await lock.release();
  });

  test('aborting a waiting acquire leaves the queue', async () => {
    await seedHold(server.service, 'calls-6', { owner: 'other' });
    const controller = new AbortController();
    const waiting = client.acquire('calls-6', { waitMs: 60_000, signal: controller.signal });
    await server.service.until(() => server.service.waiterCount('calls-6') === 1);
    controller.abort();
    await assert.rejects(waiting, AbortedError);
    await server.service.until(() => server.service.waiterCount('calls-6') === 0);
  });

  test('refresh, check, release by owner and by force', async () => {
    await client.acquire('calls-7', { owner: 'w1', ttlMs: 5_000, keepAlive: false });
    const grant = await client.refresh('calls-7', { owner: 'w1', ttlMs: 9_000 });
    assert.equal(grant.ttlMs, 9_000);
    const view = await client.check('calls-7', { stale: true });
    assert.deepEqual(
      view?.holders.map((holder) => [holder.owner, holder.ttlMs]),
      [['w1', 9_000]],
    );
    assert.deepEqual(server.service.calls.at(-1)?.request, { name: 'calls-7', stale: true });
    const notOwner = await client
      .release('calls-7', { owner: 'w2' })
      .catch((error: unknown) => error);
    assert.ok(notOwner instanceof NotOwnerError);
    assert.equal(notOwner.holder?.owner, 'w1');
    await assert.rejects(client.refresh('calls-7', { owner: 'w2' }), NotOwnerError);
    await client.release('calls-7', { force: true });
    assert.equal(await client.check('calls-7'), undefined);
    await assert.rejects(client.release('calls-7', { owner: 'w1' }), NotLockedError);
    await assert.rejects(client.refresh('calls-7', { owner: 'w1' }), NotLockedError);
  });

  test('list pages and listAll over every page', async () => {
    for (const name of ['list-c', 'list-a', 'list-e', 'list-b', 'list-d']) {
      await seedHold(server.service, name, { owner: name });
    }
    const page = await client.list({ prefix: 'list-', limit: 2 });
    assert.deepEqual(
      page.locks.map((lock) => lock.name),
      ['list-a', 'list-b'],
    );
    assert.equal(page.next, 'list-b');
    const names: string[] = [];
    for await (const lock of client.listAll({ prefix: 'list-', pageSize: 2 }))
      names.push(lock.name);
    assert.deepEqual(names, ['list-a', 'list-b', 'list-c', 'list-d', 'list-e']);
  });

  test('a 400 is a ResponseError with the server code and message', async () => {
    const error = await client
      .acquire('calls-8', { ttlMs: 500 })
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof ResponseError);
    assert.deepEqual(
      [error.status, error.code, error.message],
      [400, 'LOCKD_ERR_BAD_REQUEST', 'ttl is too short (500 ms < min of 1000 ms)'],
    );
  });

  test('arguments the client cannot use → InvalidArgumentError', async () => {
    assert.throws(() => new LockdClient({ endpoints: [] }), InvalidArgumentError);
    assert.throws(() => new LockdClient({ endpoints: ['ftp://x'] }), InvalidArgumentError);
    assert.throws(() => new LockdClient({ endpoints: ['not a url'] }), InvalidArgumentError);
    assert.throws(
      () => new LockdClient({ endpoints: [server.url], requestTimeoutMs: 0 }),
      InvalidArgumentError,
    );
    await assert.rejects(client.acquire('x', { ttlMs: 1.5 }), InvalidArgumentError);
    await assert.rejects(client.acquire('x', { waitMs: -1 }), InvalidArgumentError);
    await assert.rejects(client.acquire(''), InvalidArgumentError);
  });
});

describe('failover', () => {
  test('a dead endpoint is skipped, and the one that answered is used next', async () => {
    const server = await startServer();
    try {
      const dead = await deadEndpoint();
      const { fetch, urls } = recordingFetch();
      const client = new LockdClient({ endpoints: [dead, server.url], fetch });
      await client.check('f-1');
      await client.check('f-2');
      assert.deepEqual(urls, [
        `${dead}/lock/f-1`,
        `${server.url}/lock/f-1`,
        `${server.url}/lock/f-2`,
      ]);
    } finally {
      await server.close();
    }
  });

  test('a follower naming the leader (Lockd-Leader) sends the next requests there', async () => {
    const follower = await startServer();
    const leader = await startServer({ service: follower.service });
    try {
      const { fetch, urls } = recordingFetch();
      const client = new LockdClient({ endpoints: [follower.url, leader.url], fetch });
      // An address that is not one of the endpoints is not followed.
      follower.service.leaderAddress = '192.0.2.1:2081';
      const first = await client.acquire('lead-1', { keepAlive: false });
      await first.release();
      follower.service.leaderAddress = new URL(leader.url).host;
      const second = await client.acquire('lead-2', { keepAlive: false });
      await second.release();
      assert.deepEqual(
        urls.map((url) => new URL(url).origin),
        [follower.url, follower.url, follower.url, leader.url],
      );
    } finally {
      await follower.close();
      await leader.close();
    }
  });

  test('a 503 moves to the next endpoint at once', async () => {
    const unavailable = await startServer();
    const healthy = await startServer();
    try {
      unavailable.service.behaviour = {
        kind: 'throw',
        error: new LockdError('LOCKD_ERR_NO_LEADER', 'No leader', { retryAfterSeconds: 30 }),
      };
      const client = new LockdClient({ endpoints: [unavailable.url, healthy.url] });
      const startedAt = performance.now();
      const lock = await client.acquire('f-3', { keepAlive: false });
      // Had it waited for the Retry-After (capped at 5 s), this would take 5 s.
      assert.ok(performance.now() - startedAt < 4_000, 'waited before trying the next endpoint');
      assert.equal(healthy.service.holders('f-3').length, 1);
      await lock.release();
      assert.equal(unavailable.service.calls.length, 1);
    } finally {
      await unavailable.close();
      await healthy.close();
    }
  });

  test('a single endpoint answering 503 is retried after its Retry-After (capped)', async () => {
    const server = await startServer();
    try {
      let refusals = 1;
      server.service.overrides.describe = {
        kind: 'custom',
        answer: () =>
          refusals-- > 0
            ? Promise.reject(
                new LockdError('LOCKD_ERR_NOT_LEADER', 'moved', { retryAfterSeconds: 7 }),
              )
            : Promise.resolve(undefined),
      };
      const client = new LockdClient({ endpoints: [server.url], maxRetryDelayMs: 150 });
      const startedAt = performance.now();
      assert.equal(await client.check('f-4'), undefined);
      assert.ok(performance.now() - startedAt >= 149, 'retried before the rest was over');
      assert.equal(server.service.calls.length, 2);
    } finally {
      await server.close();
    }
  });

  test('retries are bounded: UnavailableError listing each failure', async () => {
    const dead = [await deadEndpoint(), await deadEndpoint()];
    const client = new LockdClient({ endpoints: dead, maxAttempts: 3, maxRetryDelayMs: 10 });
    const error = await client.check('f-5').catch((caught: unknown) => caught);
    assert.ok(error instanceof UnavailableError);
    assert.equal(error.code, 'LOCKD_CLIENT_ERR_UNAVAILABLE');
    assert.equal(error.failures.length, 3);
    for (const failure of error.failures) assert.ok(failure instanceof ConnectionError);
  });

  test('an attempt that gets no answer in time fails with RequestTimeoutError', async () => {
    const server = await startServer();
    try {
      server.service.behaviour = { kind: 'hang' };
      const client = new LockdClient({
        endpoints: [server.url],
        requestTimeoutMs: 50,
        maxAttempts: 2,
        maxRetryDelayMs: 10,
      });
      const error = await client.check('f-6').catch((caught: unknown) => caught);
      assert.ok(error instanceof UnavailableError);
      assert.deepEqual(
        error.failures.map((failure) => failure.constructor),
        [RequestTimeoutError, RequestTimeoutError],
      );
    } finally {
      await server.close();
    }
  });

  test('a release retried after a failure takes 404 as done', async () => {
    const service = new FakeLockService();
    const server = await startServer({ service });
    try {
      await seedHold(service, 'f-7', { owner: 'w1' });
      let first = true;
      const flaky: typeof globalThis.fetch = async (input, init) => {
        const response = await globalThis.fetch(input, init);
        if (!first) return response;
        first = false;
        // The release was applied, but its answer was lost.
        throw new TypeError('socket hang up');
      };
      const client = new LockdClient({
        endpoints: [server.url],
        fetch: flaky,
        maxRetryDelayMs: 10,
      });
      await client.release('f-7', { owner: 'w1' });
      assert.deepEqual(service.callSummary(), ['release f-7', 'release f-7']);
    } finally {
      await server.close();
    }
  });
});
