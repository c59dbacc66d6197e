/** Owners, leases, shared locks, refresh, release and describe over HTTP, against the fake. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LockdErrorCode } from '../../src/errors.js';
import { FakeLockService } from './fake-lock-service.js';
import {
  assertJsonResponse,
  badRequest,
  buildTestServer,
  conflict,
  type ExpectedResponse,
  fakeInstant,
  granted,
  notFound,
  notLocked,
  ok,
  seedHold,
} from './helpers.js';

interface HolderFields {
  readonly owner: string | null;
  readonly token: number;
  readonly acquiredAtMs?: number;
  readonly ttlMs?: number | null;
}

function holderText(fields: HolderFields): string {
  const ttlMs = fields.ttlMs ?? null;
  const acquiredAtMs = fields.acquiredAtMs ?? 0;
  return JSON.stringify({
    owner: fields.owner,
    token: fields.token,
    acquiredAt: fakeInstant(acquiredAtMs),
    ttlMs,
    expiresAt: ttlMs === null ? null : fakeInstant(acquiredAtMs + ttlMs),
  });
}

function withHolder(
  status: number,
  message: string,
  errorCode: LockdErrorCode,
  holder: HolderFields,
): ExpectedResponse {
  return {
    status,
    body: `{"error":"${message}","holder":${holderText(holder)}}\n`,
    errorCode,
  };
}

const notOwner: ExpectedResponse = {
  status: 409,
  body: '{"error":"Lock held by another owner"}\n',
  errorCode: 'LOCKD_ERR_NOT_OWNER',
};

describe('acquire', () => {
  test('with owner and ttl: the grant, its token in Lockd-Token', async () => {
    const { app, service } = buildTestServer();
    assertJsonResponse(
      await app.inject({ method: 'POST', url: '/lock/job?owner=w1&ttl=30s' }),
      granted({ name: 'job', owner: 'w1', token: 1, ttlMs: 30_000 }),
    );
    assert.deepEqual(service.calls[0]?.request, {
      name: 'job',
      owner: 'w1',
      ttlMs: 30_000,
      waitMs: 0,
      mode: 'exclusive',
      limit: null,
    });
  });

  test('the same owner again: 200, the same token, the lease renewed', async () => {
    const { app, service } = buildTestServer();
    await app.inject({ method: 'POST', url: '/lock/job?owner=w1&ttl=30s' });
    service.advance(10_000);
    assertJsonResponse(
      await app.inject({ method: 'POST', url: '/lock/job?owner=w1&ttl=30s' }),
      granted({ name: 'job', owner: 'w1', token: 1, ttlMs: 30_000, expiresAtMs: 40_000 }),
    );
  });

  test('held by a named owner: 409 naming the holder', async () => {
    const { app } = buildTestServer();
    await app.inject({ method: 'POST', url: '/lock/job?owner=w1&ttl=30s' });
    const expected = withHolder(409, 'Lock conflict', 'LOCKD_ERR_LOCK_CONFLICT', {
      owner: 'w1',
      token: 1,
      ttlMs: 30_000,
    });
    assertJsonResponse(await app.inject({ method: 'POST', url: '/lock/job?owner=w2' }), expected);
    // An anonymous request gets the holder too: it is the lock's state, not the caller's.
    assertJsonResponse(await app.inject({ method: 'POST', url: '/lock/job' }), expected);
  });

  test('held anonymously: 409 with exactly the seed body', async () => {
    const { app, service } = buildTestServer();
    await seedHold(service, 'job');
    assertJsonResponse(await app.inject({ method: 'POST', url: '/lock/job?owner=w2' }), conflict);
    assertJsonResponse(await app.inject({ method: 'POST', url: '/lock/job' }), conflict);
  });

  test('shared with a limit: holders up to the limit, then 409 naming the first', async () => {
    const { app } = buildTestServer();
    const shared = (owner: string) =>
      app.inject({ method: 'POST', url: `/lock/pool?owner=${owner}&mode=shared&limit=2` });
    assertJsonResponse(
      await shared('a'),
      granted({ name: 'pool', owner: 'a', token: 1, mode: 'shared' }),
    );
    assertJsonResponse(
      await shared('b'),
      granted({ name: 'pool', owner: 'b', token: 2, mode: 'shared' }),
    );
    assertJsonResponse(
      await shared('c'),
      withHolder(409, 'Lock conflict', 'LOCKD_ERR_LOCK_CONFLICT', { owner: 'a', token: 1 }),
    );
    const exclusive = await app.inject({ method: 'POST', url: '/lock/pool?owner=d' });
    assert.equal(exclusive.statusCode, 409);
  });

  test('parameters from a JSON body, the body winning over the query', async () => {
    const { app } = buildTestServer();
    const response = await app.inject({
      method: 'POST',
      url: '/lock/job?owner=query&ttl=5s',
      headers: { 'content-type': 'application/json' },
      payload: { owner: 'body', ttl: 2000 },
    });
    assertJsonResponse(response, granted({ name: 'job', owner: 'body', token: 1, ttlMs: 2_000 }));
  });

  test('a bad parameter → 400 with the bound named; nothing reaches the service', async () => {
    const { app, service } = buildTestServer({
      service: new FakeLockService({ limits: { maxOwnerBytes: 4, maxTtlMs: 60_000 } }),
    });
    const cases = [
      ['/lock/a?owner=abcde', 'owner is too long (5 bytes > maxOwnerBytes of 4)'],
      ['/lock/a?ttl=2m', 'ttl is too long (120000 ms > maxTtlMs of 60000 ms)'],
      ['/lock/a?ttl=500ms', 'ttl is too short (500 ms < min of 1000 ms)'],
      ['/lock/a?mode=shared', 'mode=shared requires an owner'],
      [
        '/lock/a?wait=forever',
        'wait must be whole milliseconds or a whole number with a unit: 500ms, 30s, 5m, 1h',
      ],
    ] as const;
    for (const [url, message] of cases) {
      assertJsonResponse(await app.inject({ method: 'POST', url }), badRequest(message));
    }
    const tooLong = await app.inject({ method: 'POST', url: '/lock/a?owner=abcde' });
    // `>` travels as \u003e, as in every message of the seed's server.
    assert.equal(
      tooLong.body,
      '{"error":"owner is too long (5 bytes \\u003e maxOwnerBytes of 4)"}\n',
    );
    assert.deepEqual(service.calls, []);
  });

  test('a limit of the service → 429 LOCKD_ERR_LIMIT_REACHED with its message', async () => {
    const { app } = buildTestServer({ service: new FakeLockService({ limits: { maxLocks: 1 } }) });
    await app.inject({ method: 'POST', url: '/lock/a' });
    assertJsonResponse(await app.inject({ method: 'POST', url: '/lock/b' }), {
      status: 429,
      body: '{"error":"Too many locks (max 1)"}\n',
      errorCode: 'LOCKD_ERR_LIMIT_REACHED',
    });
  });
});

describe('refresh', () => {
  test('renews the lease: 200 with the grant, a new ttl if given', async () => {
    const { app, service } = buildTestServer();
    await app.inject({ method: 'POST', url: '/lock/job?owner=w1&ttl=30s' });
    service.advance(20_000);
    assertJsonResponse(
      await app.inject({ method: 'POST', url: '/lock/job/refresh?owner=w1' }),
      granted({ name: 'job', owner: 'w1', token: 1, ttlMs: 30_000, expiresAtMs: 50_000 }),
    );
    assertJsonResponse(
      await app.inject({ method: 'POST', url: '/lock/job/refresh?owner=w1&ttl=1m' }),
      granted({ name: 'job', owner: 'w1', token: 1, ttlMs: 60_000, expiresAtMs: 80_000 }),
    );
    assert.deepEqual(service.calls[2]?.request, { name: 'job', owner: 'w1', ttlMs: 60_000 });
  });

  test('not locked → 404 LOCKD_ERR_NOT_LOCKED, also once the lease expired', async () => {
    const { app, service } = buildTestServer();
    assertJsonResponse(
      await app.inject({ method: 'POST', url: '/lock/job/refresh?owner=w1' }),
      notLocked,
    );
    await app.inject({ method: 'POST', url: '/lock/job?owner=w1&ttl=30s' });
    service.advance(30_000);
    assertJsonResponse(
      await app.inject({ method: 'POST', url: '/lock/job/refresh?owner=w1' }),
      notLocked,
    );
  });

  test('held by another → 409 LOCKD_ERR_NOT_OWNER, naming a named holder', async () => {
    const { app, service } = buildTestServer();
    await app.inject({ method: 'POST', url: '/lock/job?owner=w1&ttl=30s' });
    assertJsonResponse(
      await app.inject({ method: 'POST', url: '/lock/job/refresh?owner=w2' }),
      withHolder(409, 'Lock held by another owner', 'LOCKD_ERR_NOT_OWNER', {
        owner: 'w1',
        token: 1,
        ttlMs: 30_000,
      }),
    );
    await seedHold(service, 'anonymous');
    assertJsonResponse(
      await app.inject({ method: 'POST', url: '/lock/anonymous/refresh?owner=w2' }),
      notOwner,
    );
  });

  test('without an owner → 400', async () => {
    const { app, service } = buildTestServer();
    assertJsonResponse(
      await app.inject({ method: 'POST', url: '/lock/job/refresh' }),
      badRequest('owner is required'),
    );
    assert.deepEqual(service.calls, []);
  });
});

describe('release', () => {
  test('by its owner → 200 {}', async () => {
    const { app, service } = buildTestServer();
    await app.inject({ method: 'POST', url: '/lock/job?owner=w1' });
    assertJsonResponse(await app.inject({ method: 'DELETE', url: '/lock/job?owner=w1' }), ok);
    assert.deepEqual(service.holders('job'), []);
    assertJsonResponse(
      await app.inject({ method: 'DELETE', url: '/lock/job?owner=w1' }),
      notLocked,
    );
  });

  test('by another owner → 409 LOCKD_ERR_NOT_OWNER naming the holder; the lock stays', async () => {
    const { app, service } = buildTestServer();
    await app.inject({ method: 'POST', url: '/lock/job?owner=w1' });
    assertJsonResponse(
      await app.inject({ method: 'DELETE', url: '/lock/job?owner=w2' }),
      withHolder(409, 'Lock held by another owner', 'LOCKD_ERR_NOT_OWNER', {
        owner: 'w1',
        token: 1,
      }),
    );
    assert.equal(service.holders('job').length, 1);
  });

  test('anonymously, of an owned lock → 409 saying how to release it', async () => {
    const { app, service } = buildTestServer();
    await app.inject({ method: 'POST', url: '/lock/job?owner=w1' });
    assertJsonResponse(
      await app.inject({ method: 'DELETE', url: '/lock/job' }),
      withHolder(409, 'Lock held by an owner (give owner, or force=true)', 'LOCKD_ERR_NOT_OWNER', {
        owner: 'w1',
        token: 1,
      }),
    );
    assert.equal(service.holders('job').length, 1);
  });

  test('with an owner, of an anonymous lock → 409 without a holder', async () => {
    const { app, service } = buildTestServer();
    await seedHold(service, 'job');
    assertJsonResponse(await app.inject({ method: 'DELETE', url: '/lock/job?owner=w1' }), notOwner);
  });

  test('force=true releases whatever holds it, whoever asks', async () => {
    const { app, service } = buildTestServer();
    await seedHold(service, 'pool', { owner: 'a', mode: 'shared' });
    await seedHold(service, 'pool', { owner: 'b', mode: 'shared' });
    assertJsonResponse(await app.inject({ method: 'DELETE', url: '/lock/pool?force=true' }), ok);
    assert.deepEqual(service.holders('pool'), []);
    assert.deepEqual(service.calls[0]?.request, { name: 'pool', owner: null, force: true });
    assert.deepEqual(
      service.events.map((event) => `${event.type} ${event.owner}`),
      ['grant a', 'grant b', 'force-release a', 'force-release b'],
    );
  });
});

describe('describe', () => {
  test('holders, then waiters in queue order', async () => {
    const { app, service } = buildTestServer();
    await app.inject({ method: 'POST', url: '/lock/job?owner=w1&ttl=30s' });
    const waiting = app.inject({ method: 'POST', url: '/lock/job?owner=w2&wait=5m' });
    await service.until(() => service.waiterCount('job') === 1);
    service.advance(1_500);
    const holder = holderText({ owner: 'w1', token: 1, ttlMs: 30_000 });
    assertJsonResponse(await app.inject({ method: 'GET', url: '/lock/job' }), {
      status: 200,
      body: `{"name":"job","mode":"exclusive","limit":null,"holders":[${holder}],"waiters":[{"owner":"w2","position":1,"waitedMs":1500}]}\n`,
    });
    await app.inject({ method: 'DELETE', url: '/lock/job?owner=w1' });
    assertJsonResponse(
      await waiting,
      granted({ name: 'job', owner: 'w2', token: 3, acquiredAtMs: 1_500 }),
    );
  });

  test('stale=true is passed on; a free lock → 404', async () => {
    const { app, service } = buildTestServer();
    assertJsonResponse(await app.inject({ method: 'GET', url: '/lock/job?stale=true' }), notFound);
    assert.deepEqual(service.calls[0]?.request, { name: 'job', stale: true });
  });
});
