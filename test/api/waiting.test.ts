/**
 * Waiting acquires: hand-off in FIFO order, a wait that elapses, the time-out of a waiting request
 * (wait + requestTimeoutMs), and the signal that tells the service its client is gone.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { type AddressInfo, connect } from 'node:net';
import { describe, test } from 'node:test';
import {
  assertJsonResponse,
  buildTestServer,
  type ExpectedResponse,
  granted,
  seedHold,
} from './helpers.js';

const conflictWithW1: ExpectedResponse = {
  status: 409,
  body: '{"error":"Lock conflict","holder":{"owner":"w1","token":1,"acquiredAt":"2024-01-01T00:00:00.000Z","ttlMs":null,"expiresAt":null}}\n',
  errorCode: 'LOCKD_ERR_LOCK_CONFLICT',
};

describe('waiting', () => {
  test('a release hands the lock to the waiters in the order they came', async () => {
    const { app, service } = buildTestServer();
    await seedHold(service, 'job', { owner: 'w1' });
    const second = app.inject({ method: 'POST', url: '/lock/job?owner=w2&wait=1m' });
    await service.until(() => service.waiterCount('job') === 1);
    const third = app.inject({ method: 'POST', url: '/lock/job?owner=w3&wait=1m' });
    await service.until(() => service.waiterCount('job') === 2);
    await app.inject({ method: 'DELETE', url: '/lock/job?owner=w1' });
    assertJsonResponse(await second, granted({ name: 'job', owner: 'w2', token: 3 }));
    assert.equal(service.waiterCount('job'), 1);
    await app.inject({ method: 'DELETE', url: '/lock/job?owner=w2' });
    assertJsonResponse(await third, granted({ name: 'job', owner: 'w3', token: 5 }));
    assert.equal(service.calls[1]?.request.waitMs, 60_000);
  });

  test('a wait that elapses → 409 naming the holder; the waiter is gone', async () => {
    const { app, service } = buildTestServer();
    await seedHold(service, 'job', { owner: 'w1' });
    const startedAt = performance.now();
    assertJsonResponse(
      await app.inject({ method: 'POST', url: '/lock/job?owner=w2&wait=40ms' }),
      conflictWithW1,
    );
    assert.ok(performance.now() - startedAt >= 39, 'answered before the wait was over');
    assert.equal(service.waiterCount('job'), 0);
  });

  test('a waiting request times out after wait + requestTimeoutMs, and lets go', async () => {
    const { app, service } = buildTestServer({ requestTimeoutMs: 50 });
    service.behaviour = { kind: 'hang' };
    const startedAt = performance.now();
    assertJsonResponse(await app.inject({ method: 'POST', url: '/lock/job?wait=30ms' }), {
      status: 503,
      body: '{"error":"Timed out after 80 ms waiting for the cluster; the change may still take effect"}\n',
      errorCode: 'LOCKD_ERR_TIMEOUT',
      retryAfter: '1',
    });
    assert.ok(performance.now() - startedAt >= 79, 'answered before wait + requestTimeoutMs');
    // Nobody will hear of a grant now: the service is told to drop the waiter or the grant.
    const [signal] = service.acquireSignals;
    assert.equal(signal?.aborted, true);
  });

  test('an answered request never aborts its signal', async () => {
    const { app, service } = buildTestServer();
    assertJsonResponse(
      await app.inject({ method: 'POST', url: '/lock/job?owner=w1' }),
      granted({ name: 'job', owner: 'w1', token: 1 }),
    );
    assert.equal(service.acquireSignals[0]?.aborted, false);
    assert.equal(service.holders('job').length, 1);
  });
});

/** Sends a raw request on a new connection; resolves with the socket once it is written. */
function openRequest(port: number, method: string, path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`${method} ${path} HTTP/1.1\r\nHost: x\r\n\r\n`, () => resolve(socket));
    });
    socket.on('error', reject);
  });
}

describe('a client that goes away', () => {
  test('while waiting: the waiter is removed, the holder keeps the lock', async () => {
    const { app, service } = buildTestServer();
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { port } = app.server.address() as AddressInfo;
      await seedHold(service, 'job', { owner: 'w1' });
      const socket = await openRequest(port, 'POST', '/lock/job?owner=w2&wait=5m');
      await service.until(() => service.waiterCount('job') === 1);
      socket.destroy();
      await service.until(() => service.waiterCount('job') === 0);
      assert.equal(service.acquireSignals.at(-1)?.aborted, true);
      assert.deepEqual(
        service.holders('job').map((holder) => holder.owner),
        ['w1'],
      );
    } finally {
      await app.close();
    }
  });

  test('before the service answered: the signal fires', async () => {
    const { app, service } = buildTestServer();
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { port } = app.server.address() as AddressInfo;
      service.overrides.acquire = { kind: 'hang' };
      const socket = await openRequest(port, 'POST', '/lock/job?owner=w1');
      await service.until(() => service.calls.length === 1);
      socket.destroy();
      const signal = service.acquireSignals[0];
      assert.ok(signal !== undefined);
      if (!signal.aborted) {
        await new Promise<void>((resolve) =>
          signal.addEventListener('abort', () => resolve(), { once: true }),
        );
      }
      assert.equal(signal.aborted, true);
    } finally {
      await app.close();
    }
  });
});
