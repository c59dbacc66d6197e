/** Server-Sent Events over a real socket: framing, replay, gaps, keepalive, bounds, shutdown. */
import assert from 'node:assert/strict';
import { type IncomingMessage, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { LockdError } from '../../src/errors.js';
import { FakeLockService } from './fake-lock-service.js';
import {
  buildTestServer,
  fakeInstant,
  jsonContentType,
  seedHold,
  type TestServerOptions,
} from './helpers.js';

/** An open event stream, read frame by frame (a frame ends with a blank line). */
class StreamReader {
  readonly response: IncomingMessage;
  private buffered = '';
  private ended = false;
  private wake: () => void = () => {};

  constructor(response: IncomingMessage) {
    this.response = response;
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      this.buffered += chunk;
      this.wake();
    });
    response.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  /** The next frame, blank line included; undefined once the stream ended. */
  async next(): Promise<string | undefined> {
    for (;;) {
      const end = this.buffered.indexOf('\n\n');
      if (end !== -1) {
        const frame = this.buffered.slice(0, end + 2);
        this.buffered = this.buffered.slice(end + 2);
        return frame;
      }
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  /** The next frame that is not a keepalive comment. */
  async nextEvent(): Promise<string | undefined> {
    for (;;) {
      const frame = await this.next();
      if (frame !== ': keepalive\n\n') return frame;
    }
  }

  /** Everything not read yet, once the response ended. */
  async rest(): Promise<string> {
    while (!this.ended) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    const text = this.buffered;
    this.buffered = '';
    return text;
  }

  close(): void {
    this.response.destroy();
  }
}

function open(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<StreamReader> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port, path, headers, agent: false }, (response) =>
      resolve(new StreamReader(response)),
    );
    outgoing.on('error', reject);
    outgoing.end();
  });
}

function readAll(reader: StreamReader): Promise<string> {
  return reader.rest();
}

async function listening(
  options: TestServerOptions = {},
): Promise<{ app: FastifyInstance; service: FakeLockService; port: number }> {
  const { app, service } = buildTestServer(options);
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, service, port: (app.server.address() as AddressInfo).port };
}

function eventFrame(
  id: string,
  type: string,
  name: string,
  owner: string | null,
  token: number,
): string {
  const index = Number(id.split('-')[0]);
  const data = JSON.stringify({ id, type, name, owner, token, index, at: fakeInstant() });
  return `id: ${id}\nevent: ${type}\ndata: ${data}\n\n`;
}

describe('event streams', () => {
  test('/lock/:name/events: the headers, then each event of that lock as it happens', async () => {
    const { app, service, port } = await listening();
    try {
      const reader = await open(port, '/lock/job/events');
      assert.equal(reader.response.statusCode, 200);
      assert.equal(reader.response.headers['content-type'], 'text/event-stream');
      assert.equal(reader.response.headers['cache-control'], 'no-cache');
      assert.deepEqual(service.calls.at(-1)?.request, {
        name: 'job',
        prefix: '',
        lastEventId: null,
      });
      await seedHold(service, 'other', { owner: 'x' });
      await seedHold(service, 'job', { owner: 'w1' });
      await service.release({ name: 'job', owner: 'w1', force: false });
      assert.equal(await reader.nextEvent(), eventFrame('2-0', 'grant', 'job', 'w1', 2));
      assert.equal(await reader.nextEvent(), eventFrame('3-0', 'release', 'job', 'w1', 2));
      reader.close();
      // The subscription ends with the connection.
      await service.until(() => service.subscriberCount === 0);
    } finally {
      await app.close();
    }
  });

  test('/events?prefix=: every lock under the prefix', async () => {
    const { app, service, port } = await listening();
    try {
      const reader = await open(port, '/events?prefix=job-');
      await seedHold(service, 'jobs', { owner: 'x' });
      await seedHold(service, 'job-1', { owner: 'y' });
      assert.equal(await reader.nextEvent(), eventFrame('2-0', 'grant', 'job-1', 'y', 2));
      reader.close();
    } finally {
      await app.close();
    }
  });

  test('Last-Event-ID (or lastEventId=) replays what came after it, then goes live', async () => {
    const { app, service, port } = await listening();
    try {
      await seedHold(service, 'job', { owner: 'w1' });
      await service.release({ name: 'job', owner: 'w1', force: false });
      await seedHold(service, 'job', { owner: 'w2' });
      for (const [path, headers] of [
        ['/lock/job/events', { 'Last-Event-ID': '1-0' }],
        ['/lock/job/events?lastEventId=1-0', {}],
      ] as const) {
        const reader = await open(port, path, headers);
        assert.equal(await reader.nextEvent(), eventFrame('2-0', 'release', 'job', 'w1', 1));
        assert.equal(await reader.nextEvent(), eventFrame('3-0', 'grant', 'job', 'w2', 3));
        reader.close();
      }
      assert.deepEqual(service.calls.at(-1)?.request, {
        name: 'job',
        prefix: '',
        lastEventId: '1-0',
      });
    } finally {
      await app.close();
    }
  });

  test('events no longer retained: a gap event, then live events', async () => {
    const service = new FakeLockService({ historyLimit: 2 });
    const { app, port } = await listening({ service });
    try {
      for (const owner of ['a', 'b']) {
        await seedHold(service, 'job', { owner });
        await service.release({ name: 'job', owner, force: false });
      }
      const reader = await open(port, '/events', { 'Last-Event-ID': '1-0' });
      assert.equal(
        await reader.nextEvent(),
        'event: gap\ndata: {"error":"Events after 1-0 are no longer retained: some were lost; re-read the state of the locks"}\n\n',
      );
      await seedHold(service, 'job', { owner: 'c' });
      assert.equal(await reader.nextEvent(), eventFrame('5-0', 'grant', 'job', 'c', 5));
      reader.close();
    } finally {
      await app.close();
    }
  });

  test('a keepalive comment at the interval', async () => {
    const { app, port } = await listening({ eventStreams: { keepAliveIntervalMs: 10 } });
    try {
      const reader = await open(port, '/events');
      assert.equal(await reader.next(), ': keepalive\n\n');
      assert.equal(await reader.next(), ': keepalive\n\n');
      reader.close();
    } finally {
      await app.close();
    }
  });

  test('at most maxStreams at once: one more → 429; room again once one closes', async () => {
    const { app, service, port } = await listening({ eventStreams: { maxStreams: 1 } });
    try {
      const first = await open(port, '/events');
      const refused = await open(port, '/lock/job/events');
      assert.equal(refused.response.statusCode, 429);
      assert.equal(refused.response.headers['content-type'], jsonContentType);
      assert.equal(refused.response.headers['lockd-error-code'], 'LOCKD_ERR_LIMIT_REACHED');
      assert.equal(await readAll(refused), '{"error":"Too many event streams (max 1)"}\n');
      first.close();
      await service.until(() => service.subscriberCount === 0);
      const again = await open(port, '/events');
      assert.equal(again.response.statusCode, 200);
      again.close();
    } finally {
      await app.close();
    }
  });

  test('bad parameters and a refusing service are JSON errors, before any stream', async () => {
    const { app, service, port } = await listening();
    try {
      const bad = await open(port, '/events', { 'Last-Event-ID': 'latest' });
      assert.equal(bad.response.statusCode, 400);
      assert.equal(
        await readAll(bad),
        '{"error":"Last-Event-ID must be an event id such as 42-0"}\n',
      );
      service.behaviour = {
        kind: 'throw',
        error: new LockdError('LOCKD_ERR_NO_LEADER', 'No leader'),
      };
      const refused = await open(port, '/lock/job/events');
      assert.equal(refused.response.statusCode, 503);
      assert.equal(refused.response.headers['retry-after'], '1');
      assert.equal(await readAll(refused), '{"error":"No leader"}\n');
      assert.equal(service.subscriberCount, 0);
    } finally {
      await app.close();
    }
  });

  test('a malformed event from the service ends that stream only', async () => {
    class BadReplayService extends FakeLockService {
      override subscribe(...args: Parameters<FakeLockService['subscribe']>) {
        const subscription = super.subscribe(...args);
        const bad = {
          id: 'not-an-id',
          type: 'grant',
          name: 'job',
          owner: null,
          token: 1,
          index: 1,
          at: '',
        } as const;
        return { replay: [bad], unsubscribe: () => subscription.unsubscribe() };
      }
    }
    const service = new BadReplayService();
    const { app, port } = await listening({ service });
    try {
      const reader = await open(port, '/events?lastEventId=0-0');
      assert.equal(reader.response.statusCode, 200);
      assert.equal(await reader.next(), undefined);
      assert.equal(service.subscriberCount, 0);
      const healthy = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(healthy.status, 200);
    } finally {
      await app.close();
    }
  });

  test('close() ends open streams instead of waiting for their clients', async () => {
    const { app, service, port } = await listening();
    const readers = [await open(port, '/events'), await open(port, '/lock/job/events')];
    await service.until(() => service.subscriberCount === 2);
    await app.close();
    for (const reader of readers) assert.equal(await reader.next(), undefined);
    assert.equal(service.subscriberCount, 0);
  });

  test('a client too slow to read is cut off, not buffered for without bound', async () => {
    const { app, service, port } = await listening({ eventStreams: { maxBufferedBytes: 4096 } });
    try {
      const reader = await open(port, '/events');
      reader.response.pause();
      await service.until(() => service.subscriberCount === 1);
      // Loopback buffers hold a few megabytes; the bound on the loop is far above that.
      for (let round = 0; round < 200_000 && service.subscriberCount > 0; round++) {
        await seedHold(service, 'job', { owner: 'w' });
        await service.release({ name: 'job', owner: 'w', force: false });
      }
      assert.equal(service.subscriberCount, 0, 'the stream outlived its buffer bound');
      reader.close();
    } finally {
      await app.close();
    }
  });
});
