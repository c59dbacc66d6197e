/**
 * The fault proxy with real sockets on 127.0.0.1: an echo server behind it, clients in front.
 * Waits poll a condition with a deadline; nothing sleeps to synchronise.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, test } from 'node:test';
import { findFreePort } from '../support/lockd-process.js';
import { FaultProxy } from './proxy.js';

interface EchoTarget {
  readonly port: number;
  readonly sockets: Socket[];
  /** Every byte the target received, over all connections, as text. */
  received(): string;
  close(): Promise<void>;
}

async function startEchoTarget(): Promise<EchoTarget> {
  const sockets: Socket[] = [];
  let received = '';
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8');
      socket.write(chunk);
    });
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const address = server.address();
  assert(typeof address === 'object' && address !== null);
  return {
    port: address.port,
    sockets,
    received: () => received,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
    },
  };
}

interface TestClient {
  readonly socket: Socket;
  received(): string;
  isClosed(): boolean;
}

/** Resolves once connected, or once closed: a proxy that resets may do so before the connect. */
function connectClient(port: number): Promise<TestClient> {
  return new Promise((resolveClient) => {
    const socket = connect({ host: '127.0.0.1', port });
    let received = '';
    let closed = false;
    const made: TestClient = { socket, received: () => received, isClosed: () => closed };
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
      resolveClient(made);
    });
    socket.once('connect', () => resolveClient(made));
  });
}

async function waitUntil(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadlineMs = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadlineMs) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolveDelay) => setTimeout(resolveDelay, 5));
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(): Promise<{ target: EchoTarget; proxy: FaultProxy }> {
  const target = await startEchoTarget();
  cleanups.push(() => target.close());
  const proxy = await FaultProxy.start({
    listenHost: '127.0.0.1',
    listenPort: 0,
    targetHost: '127.0.0.1',
    targetPort: target.port,
  });
  cleanups.push(() => proxy.close());
  return { target, proxy };
}

async function client(port: number): Promise<TestClient> {
  const made = await connectClient(port);
  cleanups.push(() => {
    made.socket.destroy();
  });
  return made;
}

describe('the fault proxy', () => {
  test('passes bytes both ways', async () => {
    const { target, proxy } = await setUp();
    const first = await client(proxy.port);
    first.socket.write('ping');
    await waitUntil('the echo is back', () => first.received() === 'ping');
    assert.equal(target.received(), 'ping');
    assert.deepEqual(proxy.counters, {
      accepted: 1,
      refused: 0,
      bytesForwarded: 8,
      bytesDropped: 0,
    });
    assert.equal(proxy.connectedCount, 1);
  });

  test('blackhole: connections stay open, no byte crosses either way, new ones go nowhere', async () => {
    const { target, proxy } = await setUp();
    const first = await client(proxy.port);
    first.socket.write('a');
    await waitUntil('the echo is back', () => first.received() === 'a');
    proxy.setMode('blackhole');
    first.socket.write('lost');
    await waitUntil('4 bytes dropped', () => proxy.counters.bytesDropped === 4);
    target.sockets[0]?.write('back');
    await waitUntil('8 bytes dropped', () => proxy.counters.bytesDropped === 8);
    const second = await client(proxy.port);
    second.socket.write('x');
    await waitUntil('9 bytes dropped', () => proxy.counters.bytesDropped === 9);
    assert.equal(target.received(), 'a');
    assert.equal(first.received(), 'a');
    assert.equal(second.received(), '');
    assert.equal(target.sockets.length, 1, 'a connection made while cut is not dialed onward');
    assert.equal(first.isClosed(), false);
    assert.equal(second.isClosed(), false);
    assert.equal(proxy.counters.bytesForwarded, 2);
  });

  test('healing a blackhole closes the connections that lost bytes; new ones pass', async () => {
    const { target, proxy } = await setUp();
    const first = await client(proxy.port);
    const quiet = await client(proxy.port);
    await waitUntil('both dialed onward', () => target.sockets.length === 2);
    proxy.setMode('blackhole');
    first.socket.write('lost');
    await waitUntil('4 bytes dropped', () => proxy.counters.bytesDropped === 4);
    const madeWhileCut = await client(proxy.port);
    proxy.setMode('pass');
    await waitUntil('the broken ones closed', () => first.isClosed() && madeWhileCut.isClosed());
    quiet.socket.write('still');
    await waitUntil('the quiet one still echoes', () => quiet.received() === 'still');
    const fresh = await client(proxy.port);
    fresh.socket.write('again');
    await waitUntil('a new one echoes', () => fresh.received() === 'again');
    assert.equal(target.received(), 'stillagain');
  });

  test('reset: open connections are reset, new ones are reset on arrival; heal lets new ones pass', async () => {
    const { target, proxy } = await setUp();
    const first = await client(proxy.port);
    first.socket.write('a');
    await waitUntil('the echo is back', () => first.received() === 'a');
    proxy.setMode('reset');
    await waitUntil('the open one is reset', () => first.isClosed());
    await waitUntil('the target side closed too', () => target.sockets[0]?.destroyed === true);
    const refused = await client(proxy.port);
    await waitUntil('the new one is reset', () => refused.isClosed());
    assert.equal(proxy.counters.refused, 1);
    assert.equal(target.sockets.length, 1);
    proxy.setMode('pass');
    const fresh = await client(proxy.port);
    fresh.socket.write('b');
    await waitUntil('a new one echoes', () => fresh.received() === 'b');
    assert.equal(target.received(), 'ab');
    assert.equal(proxy.openCount, 1);
  });

  test('a target that is down: the connection is closed at once', async () => {
    const port = await findFreePort();
    const proxy = await FaultProxy.start({
      listenHost: '127.0.0.1',
      listenPort: 0,
      targetHost: '127.0.0.1',
      targetPort: port,
    });
    cleanups.push(() => proxy.close());
    const lonely = await client(proxy.port);
    await waitUntil('closed', () => lonely.isClosed());
    assert.equal(proxy.openCount, 0);
  });
});
