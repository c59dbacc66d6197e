/** Real listening API servers over fakes, for the client tests. */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { FakeLockService } from '../api/fake-lock-service.js';
import { buildTestServer, type TestServerOptions } from '../api/helpers.js';

export interface RunningServer {
  readonly app: FastifyInstance;
  readonly service: FakeLockService;
  readonly url: string;
  close(): Promise<void>;
}

/** A server on 127.0.0.1 on a port the system picks; several may share one service (a "cluster"). */
export async function startServer(options: TestServerOptions = {}): Promise<RunningServer> {
  const { app, service } = buildTestServer(options);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const close = async (): Promise<void> => {
    const closing = app.close();
    // fetch (undici) may leave a connection on which it never sends a request, after a request
    // was aborted; Node does not count it as idle, so close() would wait for its headers
    // time-out. The tests are over: every connection goes.
    app.server.closeAllConnections();
    await closing;
  };
  return { app, service, url: `http://127.0.0.1:${port}`, close };
}

/** An endpoint nothing listens on: a server is started, its port noted, and it is closed. */
export async function deadEndpoint(): Promise<string> {
  const server = await startServer();
  await server.close();
  return server.url;
}

/** A fake whose leases follow real time, for keepalive and lease tests. */
export function realTimeService(): FakeLockService {
  return new FakeLockService({ now: Date.now });
}

/** Resolves with performance.now() when `signal` aborts. */
export function abortedAt(signal: AbortSignal): Promise<number> {
  if (signal.aborted) return Promise.resolve(performance.now());
  return new Promise((resolve) =>
    signal.addEventListener('abort', () => resolve(performance.now()), { once: true }),
  );
}

/** A fetch that records the URL of every request before passing it on. */
export function recordingFetch(): { fetch: typeof globalThis.fetch; urls: string[] } {
  const urls: string[] = [];
  const recorded: typeof globalThis.fetch = (input, init) => {
    urls.push(String(input));
    return globalThis.fetch(input, init);
  };
  return { fetch: recorded, urls };
}
