/**
 * A TCP proxy that the nemesis can cut: one per directed pair of nodes (A → B), carrying the
 * connections A dials to B's peer port. Three modes:
 * - `pass`: bytes flow both ways, with back-pressure;
 * - `blackhole`: connections are accepted and kept, but no byte goes anywhere (it is dropped) and
 *   a new connection is never dialed onward, as when packets vanish in the network;
 * - `reset`: every connection is reset, and each new one is accepted then reset at once.
 * A connection that lost bytes (or whose other end went away) while cut can never be trusted
 * again, since its stream now has a hole: going back to `pass` destroys it, and the node redials.
 * A connection that carried nothing while cut goes on as before.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { assert } from '../../src/util/assert.js';

export type LinkMode = 'pass' | 'blackhole' | 'reset';

export interface FaultProxyOptions {
  readonly listenHost: string;
  /** 0: the system picks a free port (read it from `port`). */
  readonly listenPort: number;
  readonly targetHost: string;
  readonly targetPort: number;
  /** Connections open at once; more are refused. A lockd peer link needs one per direction. */
  readonly maxConnections?: number;
}

export interface ProxyCounters {
  /** Connections accepted (every mode). */
  accepted: number;
  /** Connections destroyed on arrival: reset mode, or too many open. */
  refused: number;
  bytesForwarded: number;
  bytesDropped: number;
}

const defaultMaxConnections = 64;

export class FaultProxy {
  readonly #options: FaultProxyOptions;
  readonly #server: Server;
  readonly #connections = new Set<ProxiedConnection>();
  #mode: LinkMode = 'pass';
  #port = 0;
  readonly counters: ProxyCounters = {
    accepted: 0,
    refused: 0,
    bytesForwarded: 0,
    bytesDropped: 0,
  };

  private constructor(options: FaultProxyOptions) {
    this.#options = options;
    this.#server = createServer((socket) => this.#accept(socket));
  }

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(options);
    await new Promise<void>((resolveListen, rejectListen) => {
      proxy.#server.once('error', rejectListen);
      proxy.#server.listen(options.listenPort, options.listenHost, () => resolveListen());
    });
    const address = proxy.#server.address();
    assert(typeof address === 'object' && address !== null, 'the proxy has no address');
    proxy.#port = address.port;
    return proxy;
  }

  get port(): number {
    return this.#port;
  }

  get mode(): LinkMode {
    return this.#mode;
  }

  /** Connections open now whose onward half is connected (a working link has one). */
  get connectedCount(): number {
    let count = 0;
    for (const connection of this.#connections) if (connection.isConnected()) count++;
    return count;
  }

  get openCount(): number {
    return this.#connections.size;
  }

  setMode(mode: LinkMode): void {
    this.#mode = mode;
    for (const connection of [...this.#connections]) connection.onModeChange(mode);
  }

  async close(): Promise<void> {
    for (const connection of [...this.#connections]) connection.destroy();
    await new Promise<void>((resolveClose) => this.#server.close(() => resolveClose()));
  }

  #accept(inbound: Socket): void {
    this.counters.accepted++;
    inbound.on('error', () => {
      // A reset from the dialer; the close event cleans up.
    });
    const maxConnections = this.#options.maxConnections ?? defaultMaxConnections;
    if (this.#mode === 'reset' || this.#connections.size >= maxConnections) {
      this.counters.refused++;
      resetSocket(inbound);
      return;
    }
    const connection = new ProxiedConnection({
      inbound,
      target: { host: this.#options.targetHost, port: this.#options.targetPort },
      mode: () => this.#mode,
      counters: this.counters,
      onClosed: () => this.#connections.delete(connection),
    });
    this.#connections.add(connection);
  }
}

interface ProxiedConnectionOptions {
  readonly inbound: Socket;
  readonly target: { readonly host: string; readonly port: number };
  readonly mode: () => LinkMode;
  readonly counters: ProxyCounters;
  readonly onClosed: () => void;
}

/** One accepted connection and, once dialed, its onward half. */
class ProxiedConnection {
  readonly #options: ProxiedConnectionOptions;
  readonly #inbound: Socket;
  #outbound: Socket | undefined;
  /** The stream lost bytes or an end while cut: it must not carry anything again. */
  #broken = false;
  #closed = false;

  constructor(options: ProxiedConnectionOptions) {
    this.#options = options;
    this.#inbound = options.inbound;
    this.#inbound.setNoDelay(true);
    this.#inbound.on('close', () => this.#onEndGone());
    if (options.mode() === 'pass') this.#dial();
    else this.#inbound.on('data', (chunk: Buffer) => this.#drop(chunk));
  }

  isConnected(): boolean {
    return this.#outbound !== undefined && !this.#outbound.connecting && !this.#closed;
  }

  onModeChange(mode: LinkMode): void {
    if (mode === 'reset') {
      resetSocket(this.#inbound);
      if (this.#outbound !== undefined) resetSocket(this.#outbound);
      return;
    }
    if (mode === 'blackhole') {
      // A side paused for back-pressure must be read again, or its bytes would wait, not vanish.
      this.#inbound.resume();
      this.#outbound?.resume();
      return;
    }
    if (this.#broken || this.#outbound === undefined) this.destroy();
  }

  destroy(): void {
    this.#inbound.destroy();
    this.#outbound?.destroy();
  }

  #dial(): void {
    const outbound = tcpConnect({
      host: this.#options.target.host,
      port: this.#options.target.port,
      noDelay: true,
    });
    this.#outbound = outbound;
    outbound.on('error', () => {
      // Refused or reset by the target; the close event cleans up.
    });
    outbound.on('close', () => this.#onEndGone());
    this.#forward(this.#inbound, outbound);
    this.#forward(outbound, this.#inbound);
  }

  #forward(from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (this.#options.mode() !== 'pass') {
        this.#drop(chunk);
        return;
      }
      this.#options.counters.bytesForwarded += chunk.length;
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
    from.on('end', () => {
      if (this.#options.mode() === 'pass') to.end();
      else this.#broken = true;
    });
  }

  #drop(chunk: Buffer): void {
    this.#broken = true;
    this.#options.counters.bytesDropped += chunk.length;
  }

  /**
   * One end closed. While the link passes, the other end follows at once; while it is cut, the
   * other end must not learn of it (no FIN crosses a partition), so it waits for the heal.
   */
  #onEndGone(): void {
    const bothGone =
      this.#inbound.destroyed && (this.#outbound === undefined || this.#outbound.destroyed);
    if (this.#options.mode() === 'pass' || bothGone) this.destroy();
    else this.#broken = true;
    if (bothGone || this.#options.mode() === 'pass') this.#markClosed();
  }

  #markClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#options.onClosed();
  }
}

/** Sends a TCP reset where the platform can, else just destroys the socket. */
function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}
