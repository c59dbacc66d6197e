/**
 * What travels in a frame once a connection is authenticated: Raft messages (one way, dialer to
 * acceptor), and calls with their replies (a follower forwarding a client's write to the leader).
 */
import { Packr } from 'msgpackr';
import type { Message, NodeId } from '../raft/types.js';

export interface RaftEnvelope {
  readonly kind: 'raft';
  readonly message: Message;
}

export interface CallEnvelope {
  readonly kind: 'call';
  readonly id: number;
  readonly method: string;
  readonly body: unknown;
}

export interface ReplyEnvelope {
  readonly kind: 'reply';
  readonly id: number;
  readonly ok: boolean;
  /** The result when ok; else `{ code, message }` of the error. */
  readonly body: unknown;
}

export type Envelope = RaftEnvelope | CallEnvelope | ReplyEnvelope;

/** msgpack with plain maps only: no records, no class revival, nothing a peer could exploit. */
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

export function encodePayload(value: unknown): Buffer {
  return packr.pack(value);
}

/** Decodes untrusted bytes; throws on anything that is not msgpack. */
export function decodePayload(payload: Uint8Array): unknown {
  return packr.unpack(payload);
}

/** Narrows an untrusted decoded value to an envelope sent by `from`, or undefined. */
export function asEnvelope(value: unknown, from: NodeId): Envelope | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  switch (record.kind) {
    case 'raft': {
      const message = record.message as Record<string, unknown> | null;
      if (typeof message !== 'object' || message === null || message.from !== from)
        return undefined;
      return record as unknown as RaftEnvelope;
    }
    case 'call':
      return Number.isSafeInteger(record.id) && typeof record.method === 'string'
        ? (record as unknown as CallEnvelope)
        : undefined;
    case 'reply':
      return Number.isSafeInteger(record.id) && typeof record.ok === 'boolean'
        ? (record as unknown as ReplyEnvelope)
        : undefined;
    default:
      return undefined;
  }
}
