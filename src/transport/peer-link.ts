/**
 * The outbound half of the link to one peer: a persistent TCP connection, authenticated by the
 * handshake, that carries this node's Raft messages and calls to the peer. It reconnects with
 * jittered exponential backoff. Sends are bounded: a Raft message that finds the queue full is
 * dropped (Raft tolerates loss and will resend), never buffered without limit.
 */
import { connect, type Socket } from 'node:net';
import { errorCatalogue, LockdError, type LockdErrorCode } from '../errors.js';
import type { Message, NodeId } from '../raft/types.js';
import {
  asEnvelope,
  decodePayload,
  type Envelope,
  encodePayload,
  encodeRaftFrame,
} from './envelope.js';
import { encodeFrame, FrameDecoder } from './frame.js';
import {
  asHandshakeMessage,
  handshakeMaxFrameBytes,
  handshakeVersion,
  newNonce,
  proofMatches,
  proofOf,
} from './handshake.js';
import { raftCodecVersion } from './raft-codec.js';

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export interface PeerLinkOptions {
  readonly selfId: NodeId;
  readonly peerId: NodeId;
  readonly address: PeerAddress;
  readonly secret: Uint8Array;
  readonly maxFrameBytes: number;
  readonly maxQueuedFrames: number;
  /** Past this many bytes waiting in the socket, Raft messages are dropped instead of queued. */
  readonly maxSocketBufferBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  readonly maxPendingCalls: number;
  readonly onFailure: (event: { readonly peer: NodeId; readonly reason: string }) => void;
  readonly onLinkEvent: (event: {
    readonly peer: NodeId;
    readonly up: boolean;
    readonly reason: string;
  }) => void;
}

interface PendingCall {
  readonly resolve: (body: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export class PeerLink {
  readonly #options: PeerLinkOptions;
  #socket: Socket | undefined;
  #authenticated = false;
  /** Whether the peer, in this connection's handshake, announced that it reads raft-codec.ts. */
  #binaryRaft = false;
  #closed = false;
  #attempt = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #lastFailure = '';
  #queue: Buffer[] = [];
  #nextCallId = 1;
  readonly #calls = new Map<number, PendingCall>();
  /** Counters for /cluster and metrics. */
  droppedMessages = 0;
  lastContactMs = 0;

  constructor(options: PeerLinkOptions) {
    this.#options = options;
  }

  get up(): boolean {
    return this.#authenticated;
  }

  start(): void {
    this.#connect();
  }

  sendRaft(message: Message): void {
    const frame = encodeRaftFrame(message, this.#binaryRaft);
    if (this.#authenticated && this.#socket !== undefined) {
      if (this.#socket.writableLength > this.#options.maxSocketBufferBytes) {
        this.droppedMessages++;
        return;
      }
      this.#socket.write(frame);
      return;
    }
    if (this.#queue.length >= this.#options.maxQueuedFrames) {
      this.droppedMessages++;
      return;
    }
    this.#queue.push(frame);
  }

  /** Calls `method` on the peer; rejects when the link is down or no reply comes within timeoutMs. */
  call(method: string, body: unknown, timeoutMs: number): Promise<unknown> {
    if (!this.#authenticated || this.#socket === undefined) {
      return Promise.reject(
        new LockdError('LOCKD_ERR_NO_LEADER', `the link to node ${this.#options.peerId} is down`),
      );
    }
    if (this.#calls.size >= this.#options.maxPendingCalls) {
      return Promise.reject(
        new LockdError(
          'LOCKD_ERR_OVERLOADED',
          `too many requests in flight to node ${this.#options.peerId}`,
        ),
      );
    }
    const id = this.#nextCallId++;
    const socket = this.#socket;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#calls.delete(id);
        reject(
          new LockdError(
            'LOCKD_ERR_TIMEOUT',
            `node ${this.#options.peerId} did not answer within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.#calls.set(id, { resolve, reject, timer });
      socket.write(encodeFrame(encodePayload({ kind: 'call', id, method, body })));
    });
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    this.#socket?.destroy();
    this.#failCalls('the node is shutting down');
  }

  #connect(): void {
    if (this.#closed) return;
    const { host, port } = this.#options.address;
    const socket = connect({ host, port, noDelay: true });
    this.#socket = socket;
    // Frames queued until this connection's welcome are encoded before the peer says what it reads.
    this.#binaryRaft = false;
    const decoder = new FrameDecoder(handshakeMaxFrameBytes);
    const nonce = newNonce();
    const handshakeTimer = setTimeout(
      () => socket.destroy(new Error('handshake timed out')),
      this.#options.handshakeTimeoutMs,
    );
    socket.on('connect', () => {
      const hello = {
        type: 'hello',
        version: handshakeVersion,
        from: this.#options.selfId,
        to: this.#options.peerId,
        nonce,
      };
      socket.write(encodeFrame(encodePayload(hello)));
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const payload of decoder.push(chunk)) {
          if (this.#authenticated) this.#onEnvelope(decodePayload(payload));
          else if (this.#onHandshake(decodePayload(payload), nonce, socket)) {
            clearTimeout(handshakeTimer);
            decoder.maxPayloadBytes = this.#options.maxFrameBytes;
          }
        }
      } catch (error) {
        this.#reportFailure((error as Error).message);
        socket.destroy();
      }
    });
    socket.on('error', (error) => this.#reportFailure(error.message));
    socket.on('close', () => {
      clearTimeout(handshakeTimer);
      this.#onClose(socket);
    });
  }

  /** Returns true once the peer has proven itself and accepted us. Throws on a bad handshake. */
  #onHandshake(value: unknown, nonce: Buffer, socket: Socket): boolean {
    const message = asHandshakeMessage(value);
    const ids = { dialer: this.#options.selfId, acceptor: this.#options.peerId };
    if (message?.type === 'challenge') {
      const expected = proofOf(
        this.#options.secret,
        'acceptor',
        { dialer: nonce, acceptor: message.nonce },
        ids,
      );
      if (message.from !== this.#options.peerId || !proofMatches(expected, message.proof)) {
        throw new Error(`node ${this.#options.peerId} failed to prove the cluster secret`);
      }
      this.#binaryRaft = message.raftCodec === raftCodecVersion;
      const proof = proofOf(
        this.#options.secret,
        'dialer',
        { dialer: nonce, acceptor: message.nonce },
        ids,
      );
      socket.write(encodeFrame(encodePayload({ type: 'auth', proof })));
      return false;
    }
    if (message?.type === 'welcome') {
      this.#authenticated = true;
      this.#attempt = 0;
      this.#lastFailure = '';
      this.lastContactMs = Date.now();
      this.#options.onLinkEvent({ peer: this.#options.peerId, up: true, reason: 'authenticated' });
      for (const frame of this.#queue) socket.write(frame);
      this.#queue = [];
      return true;
    }
    throw new Error(`unexpected handshake message from node ${this.#options.peerId}`);
  }

  #onEnvelope(value: unknown): void {
    const envelope: Envelope | undefined = asEnvelope(value, this.#options.peerId);
    if (envelope?.kind !== 'reply')
      throw new Error(`node ${this.#options.peerId} sent an unexpected frame`);
    this.lastContactMs = Date.now();
    const call = this.#calls.get(envelope.id);
    if (call === undefined) return;
    this.#calls.delete(envelope.id);
    clearTimeout(call.timer);
    if (envelope.ok) call.resolve(envelope.body);
    else call.reject(replyError(envelope.body));
  }

  #onClose(socket: Socket): void {
    if (this.#socket !== socket) return;
    const wasUp = this.#authenticated;
    this.#authenticated = false;
    this.#binaryRaft = false;
    this.#socket = undefined;
    this.#failCalls(`the link to node ${this.#options.peerId} was lost`);
    if (wasUp)
      this.#options.onLinkEvent({
        peer: this.#options.peerId,
        up: false,
        reason: 'connection closed',
      });
    if (this.#closed) return;
    const ceilingMs = Math.min(
      this.#options.reconnectMaxMs,
      this.#options.reconnectMinMs * 2 ** Math.min(this.#attempt, 16),
    );
    this.#attempt++;
    // Full jitter: peers that lost each other at the same moment do not retry in lockstep.
    const delayMs =
      this.#options.reconnectMinMs + Math.random() * (ceilingMs - this.#options.reconnectMinMs);
    this.#reconnectTimer = setTimeout(() => this.#connect(), delayMs);
  }

  /** Reports why connecting failed, once per distinct reason, so a down peer does not flood the log. */
  #reportFailure(reason: string): void {
    if (reason === this.#lastFailure) return;
    this.#lastFailure = reason;
    this.#options.onFailure({ peer: this.#options.peerId, reason });
  }

  #failCalls(reason: string): void {
    for (const call of this.#calls.values()) {
      clearTimeout(call.timer);
      call.reject(new LockdError('LOCKD_ERR_NO_LEADER', reason));
    }
    this.#calls.clear();
  }
}

function replyError(body: unknown): LockdError {
  const record = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const message =
    typeof record.message === 'string' ? record.message : 'the peer failed the request';
  const code =
    typeof record.code === 'string' && isKnownCode(record.code)
      ? record.code
      : 'LOCKD_ERR_INTERNAL';
  return new LockdError(code, message);
}

function isKnownCode(code: string): code is LockdErrorCode {
  return Object.hasOwn(errorCatalogue, code);
}
