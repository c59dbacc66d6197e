/**
 * What travels in a frame once a connection is authenticated: Raft messages (one way, dialer to
 * acceptor), and calls with their replies (a follower forwarding a client's write to the leader).
 */
import { Packr } from 'msgpackr';
import type { Message, NodeId } from '../raft/types.js';
import { encodeFrame, frameHeaderBytes, sealFrame } from './frame.js';
import {
  binaryRaftTag,
  binarySize,
  hasBinaryLayout,
  readBinary,
  writeBinary,
} from './raft-codec.js';

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

/**
 * The frame of a Raft message: in the binary layout of raft-codec.ts when the message has one and
 * the peer announced that it reads it (`binary`), else a msgpack envelope.
 */
export function encodeRaftFrame(message: Message, binary: boolean): Buffer {
  if (!binary || !hasBinaryLayout(message)) {
    return encodeFrame(encodePayload({ kind: 'raft', message }));
  }
  const frame = Buffer.allocUnsafe(frameHeaderBytes + binarySize(message));
  writeBinary(message, frame, frameHeaderBytes);
  return sealFrame(frame);
}

/**
 * Decodes untrusted bytes: a Raft message in the binary layout (as a raft envelope), or msgpack.
 * Throws on anything else. A binary message's entries are views into `payload`.
 */
export function decodePayload(payload: Buffer): unknown {
  if (payload[0] === binaryRaftTag) return { kind: 'raft', message: readBinary(payload) };
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
