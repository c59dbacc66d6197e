/**
 * Mutual authentication of a peer connection with a shared cluster secret, by HMAC challenge and
 * response: neither side ever sends the secret, each proves it knows it over both sides' fresh
 * nonces, so a recorded handshake cannot be replayed.
 *
 *   dialer   → acceptor  hello     { from, to, nonce: Nd }
 *   acceptor → dialer    challenge { from, nonce: Na, proof: HMAC(k, "acceptor", Nd, Na, from, to) }
 *   dialer   → acceptor  auth      { proof: HMAC(k, "dialer", Na, Nd, from, to) }
 *   acceptor → dialer    welcome   {}
 *
 * Until `welcome`, frames are small and only these four are accepted; anything else ends the
 * connection.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NodeId } from '../raft/types.js';

export const handshakeVersion = 1;
export const nonceBytes = 32;
/** The largest frame accepted before a peer has authenticated. */
export const handshakeMaxFrameBytes = 1024;

export interface Hello {
  readonly type: 'hello';
  readonly version: number;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly nonce: Uint8Array;
}

export interface Challenge {
  readonly type: 'challenge';
  readonly from: NodeId;
  readonly nonce: Uint8Array;
  readonly proof: Uint8Array;
  /**
   * The version of raft-codec.ts's binary layout the acceptor reads, absent from nodes of earlier
   * releases (which read msgpack only). Not covered by the proof: a tamperer could only make the
   * dialer fall back to msgpack.
   */
  readonly raftCodec?: number;
}

export interface Auth {
  readonly type: 'auth';
  readonly proof: Uint8Array;
}

export interface Welcome {
  readonly type: 'welcome';
}

export type HandshakeMessage = Hello | Challenge | Auth | Welcome;

export function newNonce(): Buffer {
  return randomBytes(nonceBytes);
}

/**
 * The proof one side gives. `dialer` and `acceptor` are the ids of the two ends, whichever side
 * computes it, so that a proof made for one pair of nodes is worthless for another.
 */
export function proofOf(
  secret: Uint8Array,
  role: 'dialer' | 'acceptor',
  nonces: { readonly dialer: Uint8Array; readonly acceptor: Uint8Array },
  ids: { readonly dialer: NodeId; readonly acceptor: NodeId },
): Buffer {
  const mac = createHmac('sha256', secret);
  mac.update(`lockd-peer-v${handshakeVersion}:${role}:${ids.dialer}:${ids.acceptor}:`);
  if (role === 'acceptor') mac.update(nonces.dialer).update(nonces.acceptor);
  else mac.update(nonces.acceptor).update(nonces.dialer);
  return mac.digest();
}

export function proofMatches(expected: Uint8Array, given: unknown): boolean {
  if (!(given instanceof Uint8Array) || given.length !== expected.length) return false;
  return timingSafeEqual(expected, given);
}

/** Narrows an untrusted decoded value to a handshake message, or undefined. */
export function asHandshakeMessage(value: unknown): HandshakeMessage | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  switch (record.type) {
    case 'hello':
      return isNodeId(record.from) &&
        isNodeId(record.to) &&
        isNonce(record.nonce) &&
        record.version === handshakeVersion
        ? (record as unknown as Hello)
        : undefined;
    case 'challenge':
      return isNodeId(record.from) && isNonce(record.nonce) && record.proof instanceof Uint8Array
        ? (record as unknown as Challenge)
        : undefined;
    case 'auth':
      return record.proof instanceof Uint8Array ? (record as unknown as Auth) : undefined;
    case 'welcome':
      return { type: 'welcome' };
    default:
      return undefined;
  }
}

function isNodeId(value: unknown): value is NodeId {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= 2 ** 31 - 1;
}

function isNonce(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === nonceBytes;
}
