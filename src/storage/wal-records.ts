/**
 * The record framing of WalStorage's segment files (see wal-storage.ts for the whole layout).
 *
 * Every record is a frame:  length(u32) crc32(u32) kind(u8) payload(length bytes)
 * where `length` counts the payload only and the CRC-32 covers the kind byte and the payload.
 * The kind byte's high bit (`writeEndFlag`) marks the last record of one write (a save, a
 * compaction, a segment's head): replay applies a write's records only once it has read that
 * last one, so a write torn by a crash is dropped whole, never half applied.
 *
 * Payloads (integers unsigned big-endian; a u64 holds a safe integer, below 2^53):
 *   segment header:  formatVersion(u32) sequence(u64) snapshotIndex(u64) snapshotTerm(u64)
 *                    lastIndex(u64) lastTerm(u64)
 *   hard state:      term(u64) vote(u64) commit(u64)
 *   entry:           term(u64) index(u64) type(u8) data(rest)
 *   snapshot marker: index(u64) term(u64) cause(u8: 1 compaction, 2 the leader's snapshot)
 *
 * Decoding never throws: a bad frame is data, and the caller decides whether it is a torn write
 * or corruption, and names the segment and offset.
 */
import { type Entry, EntryType, type HardState } from '../raft/types.js';
import { assert } from '../util/assert.js';
import { crc32 } from '../util/crc32.js';

/** The segment format this lockd writes and reads; a segment header names its own. */
export const walFormatVersion = 1;

/** length(4) + crc32(4) + kind(1). */
export const frameHeaderBytes = 9;

/**
 * The largest payload a frame may declare. Checked before anything is allocated, so a damaged
 * length cannot make replay allocate gigabytes. No entry comes near it: request bodies are at most
 * 16 MiB (--max-body-bytes).
 */
export const recordPayloadBytesMax = 64 * 1024 * 1024;

const writeEndFlag = 0x80;
const kindMask = 0x7f;

export const RecordKind = {
  segmentHeader: 1,
  hardState: 2,
  entry: 3,
  snapshotMarker: 4,
} as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

/** Why a snapshot marker was written: it either drops a prefix of the log or the whole log. */
export const MarkerCause = {
  /** The host's own snapshot (RaftStorage.compact): entries up to its index go. */
  compaction: 1,
  /** A snapshot received from the leader: it replaces the whole log. */
  leaderSnapshot: 2,
} as const;
export type MarkerCause = (typeof MarkerCause)[keyof typeof MarkerCause];

/** The first record of every segment: it restates where the log stood when the segment began. */
export interface SegmentHeader {
  readonly formatVersion: number;
  readonly sequence: number;
  readonly snapshotIndex: number;
  readonly snapshotTerm: number;
  /** The log's last index when the segment began (snapshotIndex when it held no entries). */
  readonly lastIndex: number;
  /** The term of the entry at lastIndex (snapshotTerm when lastIndex is the snapshot's). */
  readonly lastTerm: number;
}

export interface SnapshotMarkerRecord {
  readonly index: number;
  readonly term: number;
  readonly cause: MarkerCause;
}

export type WalRecord =
  | { readonly kind: typeof RecordKind.segmentHeader; readonly header: SegmentHeader }
  | { readonly kind: typeof RecordKind.hardState; readonly hardState: HardState }
  | { readonly kind: typeof RecordKind.entry; readonly entry: Entry }
  | { readonly kind: typeof RecordKind.snapshotMarker; readonly marker: SnapshotMarkerRecord };

/** A frame read from a segment: the record, whether it ends its write, and where the next begins. */
export interface DecodedFrame {
  readonly record: WalRecord;
  readonly endsWrite: boolean;
  readonly nextOffset: number;
}

export type FrameResult =
  | { readonly status: 'ok'; readonly frame: DecodedFrame }
  /** The frame runs past the end of the bytes: what a write cut short by a crash leaves. */
  | { readonly status: 'short'; readonly reason: string }
  /** The frame is complete but unreadable: a bad length, checksum, kind or payload. */
  | { readonly status: 'bad'; readonly reason: string };

const segmentHeaderPayloadBytes = 4 + 8 * 5;
const hardStatePayloadBytes = 8 * 3;
const entryPayloadHeaderBytes = 8 + 8 + 1;
const snapshotMarkerPayloadBytes = 8 + 8 + 1;

/** Encodes `records` into one buffer, for one write; the last one carries the write-end flag. */
export function encodeWrite(records: readonly WalRecord[]): Uint8Array {
  assert(records.length > 0, 'a write holds at least one record');
  let totalBytes = 0;
  for (const record of records) totalBytes += frameHeaderBytes + payloadBytesOf(record);
  const bytes = new Uint8Array(totalBytes);
  const view = new DataView(bytes.buffer);
  let offset = 0;
  for (const [position, record] of records.entries()) {
    offset = encodeFrame(view, bytes, offset, record, position === records.length - 1);
  }
  assert(offset === totalBytes, `encoded ${offset} bytes of ${totalBytes}`);
  return bytes;
}

function payloadBytesOf(record: WalRecord): number {
  switch (record.kind) {
    case RecordKind.segmentHeader:
      return segmentHeaderPayloadBytes;
    case RecordKind.hardState:
      return hardStatePayloadBytes;
    case RecordKind.entry:
      return entryPayloadHeaderBytes + record.entry.data.length;
    case RecordKind.snapshotMarker:
      return snapshotMarkerPayloadBytes;
  }
}

/** Writes one frame at `offset` and returns the offset after it. */
function encodeFrame(
  view: DataView,
  bytes: Uint8Array,
  offset: number,
  record: WalRecord,
  endsWrite: boolean,
): number {
  const payloadBytes = payloadBytesOf(record);
  assert(
    payloadBytes <= recordPayloadBytesMax,
    `a record of ${payloadBytes} bytes is beyond the ${recordPayloadBytesMax} byte limit`,
  );
  const payloadOffset = offset + frameHeaderBytes;
  view.setUint32(offset, payloadBytes);
  view.setUint8(offset + 8, record.kind | (endsWrite ? writeEndFlag : 0));
  encodePayload(view, bytes, payloadOffset, record);
  const checksummed = bytes.subarray(offset + 8, payloadOffset + payloadBytes);
  view.setUint32(offset + 4, crc32(checksummed));
  return payloadOffset + payloadBytes;
}

function encodePayload(view: DataView, bytes: Uint8Array, offset: number, record: WalRecord): void {
  switch (record.kind) {
    case RecordKind.segmentHeader: {
      const { header } = record;
      view.setUint32(offset, header.formatVersion);
      writeUint64(view, offset + 4, header.sequence);
      writeUint64(view, offset + 12, header.snapshotIndex);
      writeUint64(view, offset + 20, header.snapshotTerm);
      writeUint64(view, offset + 28, header.lastIndex);
      writeUint64(view, offset + 36, header.lastTerm);
      return;
    }
    case RecordKind.hardState:
      writeUint64(view, offset, record.hardState.term);
      writeUint64(view, offset + 8, record.hardState.vote);
      writeUint64(view, offset + 16, record.hardState.commit);
      return;
    case RecordKind.entry:
      writeUint64(view, offset, record.entry.term);
      writeUint64(view, offset + 8, record.entry.index);
      view.setUint8(offset + 16, record.entry.type);
      bytes.set(record.entry.data, offset + entryPayloadHeaderBytes);
      return;
    case RecordKind.snapshotMarker:
      writeUint64(view, offset, record.marker.index);
      writeUint64(view, offset + 8, record.marker.term);
      view.setUint8(offset + 16, record.marker.cause);
      return;
  }
}

/** Reads the frame at `offset` of `bytes` (a whole segment file). */
export function decodeFrameAt(bytes: Uint8Array, offset: number): FrameResult {
  const available = bytes.length - offset;
  if (available < frameHeaderBytes) {
    return { status: 'short', reason: `${available} bytes left, less than a frame header` };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const payloadBytes = view.getUint32(offset);
  if (payloadBytes > recordPayloadBytesMax) {
    return { status: 'bad', reason: `a frame length of ${payloadBytes} bytes is beyond the limit` };
  }
  const nextOffset = offset + frameHeaderBytes + payloadBytes;
  if (nextOffset > bytes.length) {
    return {
      status: 'short',
      reason: `a frame of ${payloadBytes} payload bytes runs ${nextOffset - bytes.length} bytes past the end`,
    };
  }
  const storedChecksum = view.getUint32(offset + 4);
  const computedChecksum = crc32(bytes.subarray(offset + 8, nextOffset));
  if (storedChecksum !== computedChecksum) {
    return {
      status: 'bad',
      reason: `checksum mismatch (stored ${hex(storedChecksum)}, computed ${hex(computedChecksum)})`,
    };
  }
  const kindByte = view.getUint8(offset + 8);
  const decoded = decodePayload(
    view,
    bytes,
    kindByte & kindMask,
    offset + frameHeaderBytes,
    payloadBytes,
  );
  if (typeof decoded === 'string') return { status: 'bad', reason: decoded };
  const endsWrite = (kindByte & writeEndFlag) !== 0;
  return { status: 'ok', frame: { record: decoded, endsWrite, nextOffset } };
}

/** The record in a frame whose checksum is good, or why it cannot be read. */
function decodePayload(
  view: DataView,
  bytes: Uint8Array,
  kind: number,
  offset: number,
  payloadBytes: number,
): WalRecord | string {
  switch (kind) {
    case RecordKind.segmentHeader:
      if (payloadBytes !== segmentHeaderPayloadBytes)
        return wrongSize('segment header', payloadBytes);
      return decodeSegmentHeader(view, offset);
    case RecordKind.hardState:
      if (payloadBytes !== hardStatePayloadBytes) return wrongSize('hard state', payloadBytes);
      return decodeHardState(view, offset);
    case RecordKind.entry:
      if (payloadBytes < entryPayloadHeaderBytes) return wrongSize('entry', payloadBytes);
      return decodeEntry(view, bytes, offset, payloadBytes);
    case RecordKind.snapshotMarker:
      if (payloadBytes !== snapshotMarkerPayloadBytes) {
        return wrongSize('snapshot marker', payloadBytes);
      }
      return decodeSnapshotMarker(view, offset);
    default:
      return `unknown record kind ${kind}`;
  }
}

function decodeSegmentHeader(view: DataView, offset: number): WalRecord | string {
  const formatVersion = view.getUint32(offset);
  if (formatVersion !== walFormatVersion) {
    return `segment format version ${formatVersion}, this lockd reads version ${walFormatVersion}`;
  }
  const values = readUint64s(view, offset + 4, 5);
  if (values === undefined) return 'a segment header field is beyond 2^53';
  const [sequence = 0, snapshotIndex = 0, snapshotTerm = 0, lastIndex = 0, lastTerm = 0] = values;
  const header = { formatVersion, sequence, snapshotIndex, snapshotTerm, lastIndex, lastTerm };
  return { kind: RecordKind.segmentHeader, header };
}

function decodeHardState(view: DataView, offset: number): WalRecord | string {
  const values = readUint64s(view, offset, 3);
  if (values === undefined) return 'a hard state field is beyond 2^53';
  const [term = 0, vote = 0, commit = 0] = values;
  return { kind: RecordKind.hardState, hardState: { term, vote, commit } };
}

function decodeEntry(
  view: DataView,
  bytes: Uint8Array,
  offset: number,
  payloadBytes: number,
): WalRecord | string {
  const values = readUint64s(view, offset, 2);
  if (values === undefined) return 'an entry term or index is beyond 2^53';
  const [term = 0, index = 0] = values;
  const type = view.getUint8(offset + 16);
  if (type !== EntryType.normal && type !== EntryType.noop && type !== EntryType.confChange) {
    return `entry ${index} has unknown type ${type}`;
  }
  const dataOffset = offset + entryPayloadHeaderBytes;
  // A copy into a plain Uint8Array (Buffer.slice would be a view), so that the entry owns its
  // bytes and the segment's buffer can be dropped.
  const data = new Uint8Array(bytes.subarray(dataOffset, offset + payloadBytes));
  return { kind: RecordKind.entry, entry: { term, index, type, data } };
}

function decodeSnapshotMarker(view: DataView, offset: number): WalRecord | string {
  const values = readUint64s(view, offset, 2);
  if (values === undefined) return 'a snapshot marker field is beyond 2^53';
  const [index = 0, term = 0] = values;
  const cause = view.getUint8(offset + 16);
  if (cause !== MarkerCause.compaction && cause !== MarkerCause.leaderSnapshot) {
    return `snapshot marker at ${index} has unknown cause ${cause}`;
  }
  return { kind: RecordKind.snapshotMarker, marker: { index, term, cause } };
}

function wrongSize(what: string, payloadBytes: number): string {
  return `a ${what} record of ${payloadBytes} payload bytes`;
}

/** Writes a safe integer as a u64, as two u32 halves (no BigInt on the hot path). */
function writeUint64(view: DataView, offset: number, value: number): void {
  assert(
    Number.isSafeInteger(value) && value >= 0,
    `cannot store ${value}: not a non-negative safe integer`,
  );
  view.setUint32(offset, Math.floor(value / 2 ** 32));
  view.setUint32(offset + 4, value >>> 0);
}

/** Reads `count` u64 values, or undefined when one of them is beyond 2^53. */
function readUint64s(view: DataView, offset: number, count: number): number[] | undefined {
  const values: number[] = [];
  for (let position = 0; position < count; position++) {
    const high = view.getUint32(offset + position * 8);
    const low = view.getUint32(offset + position * 8 + 4);
    // 2^53 - 1 has 21 bits in the high half.
    if (high >= 2 ** 21) return undefined;
    values.push(high * 2 ** 32 + low);
  }
  return values;
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}
