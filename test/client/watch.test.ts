/** watch(): events over SSE, resumed across reconnections and endpoints, gaps, idle streams. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LockEvent } from '../../src/api/lock-service.js';
import { LockdClient } from '../../src/client/client.js';
import { EventsLostError, ResponseError } from '../../src/client/errors.js';
import { FakeLockService } from '../api/fake-lock-service.js';
import { seedHold } from '../api/helpers.js';
import { startServer } from './helpers.js';

function summary(event: LockEvent | undefined): string {
  return event === undefined ? 'none' : `${event.id} ${event.type} ${event.name} ${event.owner}`;
}

async function nextEvent(iterator: AsyncIterator<LockEvent>): Promise<LockEvent | undefined> {
  const result = await iterator.next();
  return result.done === true ? undefined : result.value;
}

describe('watch', () => {
  test("one lock's events, in order; leaving the loop ends the subscription", async () => {
    const server = await startServer();
    try {
      const client = new LockdClient({ endpoints: [server.url] });
      const iterator = client.watch({ name: 'job' })[Symbol.asyncIterator]();
      const first = nextEvent(iterator);
      await server.service.until(() => server.service.subscriberCount === 1);
      await seedHold(server.service, 'other', { owner: 'x' });
      await seedHold(server.service, 'job', { owner: 'w1' });
      await server.service.release({ name: 'job', owner: 'w1', force: false });
      assert.equal(summary(await first), '2-0 grant job w1');
      const released = await nextEvent(iterator);
      assert.deepEqual(released, {
        id: '3-0',
        type: 'release',
        name: 'job',
        owner: 'w1',
        token: 2,
        index: 3,
        at: '2024-01-01T00:00:00.000Z',
      });
      await iterator.return(undefined);
      await server.service.until(() => server.service.subscriberCount === 0);
    } finally {
      await server.close();
    }
  });

  test('by prefix', async () => {
    const server = await startServer();
    try {
      const client = new LockdClient({ endpoints: [server.url] });
      const iterator = client.watch({ prefix: 'job-' })[Symbol.asyncIterator]();
      const first = nextEvent(iterator);
      await server.service.until(() => server.service.subscriberCount === 1);
      await seedHold(server.service, 'jobs', { owner: 'x' });
      await seedHold(server.service, 'job-7', { owner: 'y' });
      assert.equal(summary(await first), '2-0 grant job-7 y');
      assert.deepEqual(server.service.calls.at(-1)?.request, {
        name: null,
        prefix: 'job-',
        lastEventId: null,
      });
      await iterator.return(undefined);
    } finally {
      await server.close();
    }
  });

  test('a closed endpoint: it resumes on the next one after the last event, none lost or doubled', async () => {
    const service = new FakeLockService();
    const first = await startServer({ service });
    const second = await startServer({ service });
    try {
      const client = new LockdClient({ endpoints: [first.url, second.url], maxRetryDelayMs: 20 });
      const iterator = client.watch({ name: 'job' })[Symbol.asyncIterator]();
      const pending = nextEvent(iterator);
      await service.until(() => service.subscriberCount === 1);
      await seedHold(service, 'job', { owner: 'a' });
      assert.equal(summary(await pending), '1-0 grant job a');
      await first.close();
      // Whether this comes before the client reconnects (replayed) or after (live), it comes once.
      await service.release({ name: 'job', owner: 'a', force: false });
      const resumed = nextEvent(iterator);
      assert.equal(summary(await resumed), '2-0 release job a');
      await seedHold(service, 'job', { owner: 'b' });
      assert.equal(summary(await nextEvent(iterator)), '3-0 grant job b');
      const subscribes = service.calls.filter((call) => call.method === 'subscribe');
      assert.deepEqual(
        subscribes.map((call) => call.request.lastEventId),
        [null, '1-0'],
      );
      await iterator.return(undefined);
    } finally {
      await second.close();
    }
  });

  test('events no longer retained → EventsLostError', async () => {
    const service = new FakeLockService({ historyLimit: 1 });
    const server = await startServer({ service });
    try {
      for (const owner of ['a', 'b']) {
        await seedHold(service, 'job', { owner });
        await service.release({ name: 'job', owner, force: false });
      }
      const client = new LockdClient({ endpoints: [server.url] });
      const error = await nextEvent(
        client.watch({ name: 'job', lastEventId: '1-0' })[Symbol.asyncIterator](),
      ).catch((caught: unknown) => caught);
      assert.ok(error instanceof EventsLostError);
      assert.equal(error.code, 'LOCKD_CLIENT_ERR_EVENTS_LOST');
      assert.equal(error.lastEventId, '1-0');
      assert.equal(
        error.message,
        'Events after 1-0 are no longer retained: some were lost; re-read the state of the locks',
      );
    } finally {
      await server.close();
    }
  });

  test('the signal ends the iteration quietly', async () => {
    const server = await startServer();
    try {
      const client = new LockdClient({ endpoints: [server.url] });
      const controller = new AbortController();
      const seen: LockEvent[] = [];
      const loop = (async () => {
        for await (const event of client.watch({ signal: controller.signal })) seen.push(event);
      })();
      await server.service.until(() => server.service.subscriberCount === 1);
      controller.abort();
      await loop;
      assert.deepEqual(seen, []);
      await server.service.until(() => server.service.subscriberCount === 0);
    } finally {
      await server.close();
    }
  });

  test('a stream silent past the idle time-out is reopened', async () => {
    const server = await startServer({ eventStreams: { keepAliveIntervalMs: 60_000 } });
    try {
      const client = new LockdClient({ endpoints: [server.url], watchIdleTimeoutMs: 50 });
      const controller = new AbortController();
      const loop = (async () => {
        for await (const _event of client.watch({ signal: controller.signal })) {
          // No event comes in this test.
        }
      })();
      const subscribes = () =>
        server.service.calls.filter((call) => call.method === 'subscribe').length;
      await server.service.until(() => subscribes() >= 3);
      controller.abort();
      await loop;
    } finally {
      await server.close();
    }
  });

  test('a refused stream throws the server error', async () => {
    const server = await startServer();
    try {
      const client = new LockdClient({ endpoints: [server.url] });
      const error = await nextEvent(
        client.watch({ lastEventId: 'latest' })[Symbol.asyncIterator](),
      ).catch((caught: unknown) => caught);
      assert.ok(error instanceof ResponseError);
      assert.deepEqual(
        [error.status, error.code, error.message],
        [400, 'LOCKD_ERR_BAD_REQUEST', 'Last-Event-ID must be an event id such as 42-0'],
      );
    } finally {
      await server.close();
    }
  });
});
