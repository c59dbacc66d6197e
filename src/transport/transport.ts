/**
 * The peer link between lockd nodes (DESIGN.md §3): a listener for peers' connections and one
 * outbound PeerLink per peer. Raft messages go out on this node's own connection to each peer and
 * come in on the peers' connections to it; calls (a follower forwarding a write to the leader)
 * are answered on the connection they came in on. Every inbound connection must pass the
 * handshake before a single frame of it reaches Raft.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { isLockdError } from '../errors.js';
import type { Message, NodeId } from '../raft/types.js';
import { asEnvelope, decodePayload, encodePayload } from './envelope.js';
import { encodeFrame, FrameDecoder } from './frame.js';
import {
  asHandshakeMessage,
  handshakeMaxFrameBytes,
  newNonce,
  proofMatches,
  proofOf,
} from './handshake.js';
import { type PeerAddress, PeerLink } from './peer-link.js';
import { raftCodecVersion } from './raft-codec.js';

export interface TransportLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

export interface TransportOptions {
  readonly selfId: NodeId;
  readonly listen: PeerAddress;
  readonly peers: ReadonlyMap<NodeId, PeerAddress>;
  readonly secret: Uint8Array;
  readonly onMessage: (message: Message) => void;
  readonly onCall: (from: NodeId, method: string, body: unknown) => Promise<unknown>;
  readonly logger: TransportLogger;
  /** Test builds only: lets setFaults() drop traffic. Off in production. */
  readonly allowFaultInjection: boolean;
}

export const transportLimits = {
  maxFrameBytes: 16 * 1024 * 1024,
  maxQueuedFrames: 1024,
  maxSocketBufferBytes: 32 * 1024 * 1024,
  handshakeTimeoutMs: 5_000,
  reconnectMinMs: 50,
  reconnectMaxMs: 2_000,
  maxPendingCalls: 4096,
  maxInboundConnections: 64,
} as const;

export interface PeerStatus {
  readonly id: NodeId;
  readonly address: string;
  readonly reachable: boolean;
  readonly lastContactMs: number;
  readonly droppedMessages: number;
}

export class PeerTransport {
  readonly #options: TransportOptions;
  readonly #links = new Map<NodeId, PeerLink>();
  readonly #addresses = new Map<NodeId, PeerAddress>();
  readonly #inbound = new Set<Socket>();
  readonly #server: Server;
  /** Peers whose traffic, both ways, is dropped (fault injection for tests). */
  #isolatedFrom = new Set<NodeId>();
  #listenPort = 0;

  private constructor(options: TransportOptions) {
    this.#options = options;
    this.#server = createServer((socket) => this.#accept(socket));
  }

  static async start(options: TransportOptions): Promise<PeerTransport> {
    const transport = new PeerTransport(options);
    await new Promise<void>((resolve, reject) => {
      transport.#server.once('error', reject);
      transport.#server.listen(options.listen.port, options.listen.host, () => resolve());
    });
    const address = transport.#server.address();
    transport.#listenPort =
      typeof address === 'object' && address !== null ? address.port : options.listen.port;
    for (const [id, peer] of options.peers) transport.addPeer(id, peer);
    return transport;
  }

  get port(): number {
    return this.#listenPort;
  }

  addPeer(id: NodeId, address: PeerAddress): void {
    if (id === this.#options.selfId || this.#links.has(id)) return;
    const link = new PeerLink({
      ...transportLimits,
      selfId: this.#options.selfId,
      peerId: id,
      address,
      secret: this.#options.secret,
      onFailure: (event) => this.#options.logger.warn(event, 'peer link failed'),
      onLinkEvent: (event) =>
        this.#options.logger.info(event, event.up ? 'peer link up' : 'peer link down'),
    });
    this.#links.set(id, link);
    this.#addresses.set(id, address);
    link.start();
  }

  removePeer(id: NodeId): void {
    this.#links.get(id)?.close();
    this.#links.delete(id);
    this.#addresses.delete(id);
  }

  send(messages: readonly Message[]): void {
    for (const message of messages) {
      if (this.#isolatedFrom.has(message.to)) continue;
      this.#links.get(message.to)?.sendRaft(message);
    }
  }

  call(to: NodeId, method: string, body: unknown, timeoutMs: number): Promise<unknown> {
    const link = this.#links.get(to);
    if (link === undefined || this.#isolatedFrom.has(to)) {
      return link === undefined
        ? Promise.reject(new Error(`node ${to} is not a peer`))
        : new Promise((_, reject) =>
            setTimeout(() => reject(new Error(`node ${to} is unreachable`)), timeoutMs),
          );
    }
    return link.call(method, body, timeoutMs);
  }

  /** Test builds only: drop every message to and from these peers until called again. */
  setFaults(faults: { readonly isolatedFrom: readonly NodeId[] }): void {
    if (!this.#options.allowFaultInjection)
      throw new Error('fault injection is disabled on this node');
    this.#isolatedFrom = new Set(faults.isolatedFrom);
    this.#options.logger.warn(
      { isolatedFrom: faults.isolatedFrom },
      'fault injection: peer traffic dropped',
    );
  }

  /** Whether the link to `id` is up (and not cut by an injected fault). */
  reachable(id: NodeId): boolean {
    return this.#links.get(id)?.up === true && !this.#isolatedFrom.has(id);
  }

  peers(): PeerStatus[] {
    return [...this.#links].map(([id, link]) => {
      const address = this.#addresses.get(id);
      return {
        id,
        address: address === undefined ? '' : `${address.host}:${address.port}`,
        reachable: this.reachable(id),
        lastContactMs: link.lastContactMs,
        droppedMessages: link.droppedMessages,
      };
    });
  }

  async close(): Promise<void> {
    for (const link of this.#links.values()) link.close();
    for (const socket of this.#inbound) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: Socket): void {
    if (this.#inbound.size >= transportLimits.maxInboundConnections) {
      socket.destroy();
      return;
    }
    this.#inbound.add(socket);
    socket.setNoDelay(true);
    const session = new InboundSession(socket, this.#options, {
      isKnown: (from) => this.#links.has(from),
      isIsolated: (from) => this.#isolatedFrom.has(from),
    });
    socket.on('close', () => {
      this.#inbound.delete(socket);
      session.dispose();
    });
  }
}

interface PeerFilter {
  /** Only current members may connect. */
  isKnown(id: NodeId): boolean;
  isIsolated(id: NodeId): boolean;
}

/** One peer's connection to this node: the acceptor's side of the handshake, then its frames. */
class InboundSession {
  readonly #socket: Socket;
  readonly #options: TransportOptions;
  readonly #peers: PeerFilter;
  readonly #decoder = new FrameDecoder(handshakeMaxFrameBytes);
  readonly #nonce = newNonce();
  readonly #timer: NodeJS.Timeout;
  #dialer: { readonly id: NodeId; readonly nonce: Uint8Array } | undefined;
  #authenticated = false;

  constructor(socket: Socket, options: TransportOptions, peers: PeerFilter) {
    this.#socket = socket;
    this.#options = options;
    this.#peers = peers;
    this.#timer = setTimeout(
      () => this.#drop('handshake timed out'),
      transportLimits.handshakeTimeoutMs,
    );
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => {
      // A reset by the peer; the close event cleans up.
    });
  }

  dispose(): void {
    clearTimeout(this.#timer);
  }

  #onData(chunk: Buffer): void {
    try {
      for (const payload of this.#decoder.push(chunk)) {
        const value = decodePayload(payload);
        if (this.#authenticated) this.#onEnvelope(value);
        else this.#onHandshake(value);
      }
    } catch (error) {
      this.#drop((error as Error).message);
    }
  }

  #onHandshake(value: unknown): void {
    const message = asHandshakeMessage(value);
    if (message?.type === 'hello' && this.#dialer === undefined) {
      if (message.to !== this.#options.selfId || !this.#peers.isKnown(message.from)) {
        throw new Error(`hello from unknown node ${message.from} to ${message.to}`);
      }
      this.#dialer = { id: message.from, nonce: message.nonce };
      const nonces = { dialer: message.nonce, acceptor: this.#nonce };
      const proof = proofOf(this.#options.secret, 'acceptor', nonces, {
        dialer: message.from,
        acceptor: this.#options.selfId,
      });
      this.#socket.write(
        encodeFrame(
          encodePayload({
            type: 'challenge',
            from: this.#options.selfId,
            nonce: this.#nonce,
            proof,
            raftCodec: raftCodecVersion,
          }),
        ),
      );
      return;
    }
    if (message?.type === 'auth' && this.#dialer !== undefined) {
      const nonces = { dialer: this.#dialer.nonce, acceptor: this.#nonce };
      const expected = proofOf(this.#options.secret, 'dialer', nonces, {
        dialer: this.#dialer.id,
        acceptor: this.#options.selfId,
      });
      if (!proofMatches(expected, message.proof))
        throw new Error(`node ${this.#dialer.id} failed to prove the cluster secret`);
      this.#authenticated = true;
      clearTimeout(this.#timer);
      this.#decoder.maxPayloadBytes = transportLimits.maxFrameBytes;
      this.#socket.write(encodeFrame(encodePayload({ type: 'welcome' })));
      return;
    }
    throw new Error('unexpected frame during the handshake');
  }

  #onEnvelope(value: unknown): void {
    const from = this.#dialer?.id ?? 0;
    const envelope = asEnvelope(value, from);
    if (envelope === undefined || envelope.kind === 'reply')
      throw new Error(`node ${from} sent a malformed frame`);
    if (this.#peers.isIsolated(from)) return;
    if (envelope.kind === 'raft') {
      this.#options.onMessage(envelope.message);
      return;
    }
    const { id } = envelope;
    this.#options.onCall(from, envelope.method, envelope.body).then(
      (body) => this.#reply({ kind: 'reply', id, ok: true, body }),
      (error: unknown) => {
        const body = isLockdError(error)
          ? { code: error.code, message: error.message }
          : { code: 'LOCKD_ERR_INTERNAL', message: 'the leader failed the request' };
        this.#reply({ kind: 'reply', id, ok: false, body });
      },
    );
  }

  #reply(envelope: unknown): void {
    if (!this.#socket.destroyed) this.#socket.write(encodeFrame(encodePayload(envelope)));
  }

  #drop(reason: string): void {
    this.#options.logger.warn(
      {
        remote: `${this.#socket.remoteAddress}:${this.#socket.remotePort}`,
        peer: this.#dialer?.id ?? null,
        reason,
      },
      'peer connection dropped',
    );
    this.#socket.destroy();
  }
}
