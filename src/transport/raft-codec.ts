/**
 * A fixed binary layout for the two Raft messages that carry the write load: AppendEntries and its
 * answer. msgpack walks the objects and writes every field name: an AppendEntries of 21 entries
 * of 90 bytes (a leader's batch at c=64) took about 24 µs to encode and as long to decode, sent to
 * each follower. This layout writes each field at a known place, copies the entries' bytes once,
 * and reads them back as views into the frame: 5–7 µs to encode, 6–10 µs to decode.
 *
 * A payload in this layout starts with 0xc1, the one byte msgpack never uses, so a receiver tells
 * the two apart by the first byte and accepts both. A sender uses it only towards a peer that
 * announced it in the handshake (`raftCodec`), so a node of an older release is sent msgpack.
 *
 *   0      0xc1
 *   1      kind: 1 AppendEntries, 2 AppendEntriesResponse
 *   2      from (u32), to (u32), term (f64)       all little-endian
 *   18     AppendEntries: prevLogIndex, prevLogTerm, commit (f64 each), entry count (u32),
 *            then each entry: term, index (f64 each), type (u8), data length (u32), data
 *          AppendEntriesResponse: success (u8), matchIndex, rejectHint (f64 each)
 *
 * Numbers are float64 so that every safe integer survives; whether they are counts, and the
 * entries consecutive, is checked where every message is (isWellFormedMessage in raft/).
 */
import type {
  AppendEntries,
  AppendEntriesResponse,
  Entry,
  EntryType,
  Message,
} from '../raft/types.js';

/** The version of this layout a peer announces in its challenge. */
export const raftCodecVersion = 1;
export const binaryRaftTag = 0xc1;

const kindAppend = 1;
const kindAppendResponse = 2;
const headerBytes = 2 + 4 + 4 + 8;
const appendFieldsBytes = 8 + 8 + 8 + 4;
const entryHeaderBytes = 8 + 8 + 1 + 4;
const responseFieldsBytes = 1 + 8 + 8;

export class RaftCodecError extends Error {
  override readonly name = 'RaftCodecError';
}

/** Whether `message` has a binary layout (else it travels as msgpack). */
export function hasBinaryLayout(
  message: Message,
): message is AppendEntries | AppendEntriesResponse {
  return message.type === 'AppendEntries' || message.type === 'AppendEntriesResponse';
}

/** The payload's size in bytes, for a message that has a binary layout. */
export function binarySize(message: AppendEntries | AppendEntriesResponse): number {
  if (message.type === 'AppendEntriesResponse') return headerBytes + responseFieldsBytes;
  let size = headerBytes + appendFieldsBytes;
  for (const entry of message.entries) size += entryHeaderBytes + entry.data.length;
  return size;
}

/** Writes the message at `offset` of `target`, which has binarySize(message) bytes from there. */
export function writeBinary(
  message: AppendEntries | AppendEntriesResponse,
  target: Buffer,
  offset: number,
): void {
  target[offset] = binaryRaftTag;
  target[offset + 1] = message.type === 'AppendEntries' ? kindAppend : kindAppendResponse;
  target.writeUInt32LE(message.from, offset + 2);
  target.writeUInt32LE(message.to, offset + 6);
  target.writeDoubleLE(message.term, offset + 10);
  let at = offset + headerBytes;
  if (message.type === 'AppendEntriesResponse') {
    target[at] = message.success ? 1 : 0;
    target.writeDoubleLE(message.matchIndex, at + 1);
    target.writeDoubleLE(message.rejectHint, at + 9);
    return;
  }
  target.writeDoubleLE(message.prevLogIndex, at);
  target.writeDoubleLE(message.prevLogTerm, at + 8);
  target.writeDoubleLE(message.commit, at + 16);
  target.writeUInt32LE(message.entries.length, at + 24);
  at += appendFieldsBytes;
  for (const entry of message.entries) {
    target.writeDoubleLE(entry.term, at);
    target.writeDoubleLE(entry.index, at + 8);
    target[at + 16] = entry.type;
    target.writeUInt32LE(entry.data.length, at + 17);
    target.set(entry.data, at + entryHeaderBytes);
    at += entryHeaderBytes + entry.data.length;
  }
}

/**
 * Reads a payload that starts with binaryRaftTag. Throws RaftCodecError when it is cut short,
 * runs on past its end, or names an unknown kind; the entries' data are views into `payload`.
 */
export function readBinary(payload: Buffer): AppendEntries | AppendEntriesResponse {
  need(payload, 0, headerBytes);
  const kind = payload[1];
  const from = payload.readUInt32LE(2);
  const to = payload.readUInt32LE(6);
  const term = payload.readDoubleLE(10);
  if (kind === kindAppendResponse) {
    expectEnd(payload, headerBytes + responseFieldsBytes);
    return {
      type: 'AppendEntriesResponse',
      from,
      to,
      term,
      success: payload[headerBytes] === 1,
      matchIndex: payload.readDoubleLE(headerBytes + 1),
      rejectHint: payload.readDoubleLE(headerBytes + 9),
    };
  }
  if (kind !== kindAppend) throw new RaftCodecError(`unknown binary Raft message kind ${kind}`);
  need(payload, headerBytes, appendFieldsBytes);
  const count = payload.readUInt32LE(headerBytes + 24);
  let at = headerBytes + appendFieldsBytes;
  // Every entry takes at least its header: a count the payload cannot hold is refused before
  // anything is allocated for it.
  if (count > (payload.length - at) / entryHeaderBytes) {
    throw new RaftCodecError(`${count} entries cannot fit in ${payload.length} bytes`);
  }
  const entries: Entry[] = new Array(count);
  for (let position = 0; position < count; position++) {
    need(payload, at, entryHeaderBytes);
    const length = payload.readUInt32LE(at + 17);
    need(payload, at + entryHeaderBytes, length);
    entries[position] = {
      term: payload.readDoubleLE(at),
      index: payload.readDoubleLE(at + 8),
      type: payload[at + 16] as EntryType,
      data: payload.subarray(at + entryHeaderBytes, at + entryHeaderBytes + length),
    };
    at += entryHeaderBytes + length;
  }
  expectEnd(payload, at);
  return {
    type: 'AppendEntries',
    from,
    to,
    term,
    prevLogIndex: payload.readDoubleLE(headerBytes),
    prevLogTerm: payload.readDoubleLE(headerBytes + 8),
    commit: payload.readDoubleLE(headerBytes + 16),
    entries,
  };
}

function need(payload: Buffer, offset: number, bytes: number): void {
  if (offset + bytes > payload.length) {
    throw new RaftCodecError(`a binary Raft message is cut short at byte ${payload.length}`);
  }
}

function expectEnd(payload: Buffer, end: number): void {
  if (end !== payload.length) {
    throw new RaftCodecError(
      `a binary Raft message has ${payload.length - end} bytes past its end`,
    );
  }
}
