/**
 * The byte layout of what LmdbStorage writes (WalStorage frames its records itself, wal-records.ts). Every record starts with a format version byte (so a
 * later release can change the layout and still read old data) and ends with a CRC-32 of all the
 * bytes before it (LMDB itself does not checksum values).
 *
 * Entry record:           version(1) type(1) term(8) index(8) data(n) crc32(4)
 * Hard state record:      version(1) term(8) vote(8) commit(8) crc32(4)
 * Snapshot marker record: version(1) index(8) term(8) crc32(4)
 *
 * The snapshot marker names the snapshot the stored log follows (the log holds the entries after
 * it); the snapshot itself is a file (snapshot-files.ts).
 *
 * Integers are unsigned big-endian. The entry's own index is stored inside the record as well as in
 * its key, so that a value written under the wrong key is caught on load.
 */
import { type Entry, EntryType, type HardState } from '../raft/types.js';
import { assert } from '../util/assert.js';
import { crc32 } from '../util/crc32.js';

export const recordFormatVersion = 1;

const entryHeaderBytes = 1 + 1 + 8 + 8;
const checksumBytes = 4;
const hardStateRecordBytes = 1 + 8 + 8 + 8 + checksumBytes;
const snapshotMarkerRecordBytes = 1 + 8 + 8 + checksumBytes;

/** Where the stored log starts: it holds the entries after `index`, whose term is `term`. */
export interface SnapshotMarker {
  readonly index: number;
  readonly term: number;
}

/** Decoding never throws: a bad record is data, and the caller names where it was found. */
export type DecodeResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string };

export function encodeEntry(entry: Entry): Uint8Array {
  const bytes = new Uint8Array(entryHeaderBytes + entry.data.length + checksumBytes);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, recordFormatVersion);
  view.setUint8(1, entry.type);
  writeUint64(view, 2, entry.term);
  writeUint64(view, 10, entry.index);
  bytes.set(entry.data, entryHeaderBytes);
  sealChecksum(bytes);
  return bytes;
}

export function decodeEntry(bytes: Uint8Array): DecodeResult<Entry> {
  if (bytes.length < entryHeaderBytes + checksumBytes) {
    return { ok: false, reason: `entry record is ${bytes.length} bytes, shorter than its header` };
  }
  const checked = checkVersionAndChecksum(bytes);
  if (checked !== undefined) return { ok: false, reason: checked };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = view.getUint8(1);
  if (type !== EntryType.normal && type !== EntryType.noop && type !== EntryType.confChange) {
    return { ok: false, reason: `unknown entry type ${type}` };
  }
  const term = readUint64(view, 2);
  const index = readUint64(view, 10);
  if (term === undefined || index === undefined) {
    return { ok: false, reason: 'term or index is beyond 2^53' };
  }
  // A copy, so the entry owns its bytes: LMDB may hand out buffers it reuses.
  const data = new Uint8Array(bytes.subarray(entryHeaderBytes, bytes.length - checksumBytes));
  return { ok: true, value: { term, index, type, data } };
}

export function encodeHardState(hardState: HardState): Uint8Array {
  const bytes = new Uint8Array(hardStateRecordBytes);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, recordFormatVersion);
  writeUint64(view, 1, hardState.term);
  writeUint64(view, 9, hardState.vote);
  writeUint64(view, 17, hardState.commit);
  sealChecksum(bytes);
  return bytes;
}

export function decodeHardState(bytes: Uint8Array): DecodeResult<HardState> {
  if (bytes.length !== hardStateRecordBytes) {
    return {
      ok: false,
      reason: `hard state record is ${bytes.length} bytes, expected ${hardStateRecordBytes}`,
    };
  }
  const checked = checkVersionAndChecksum(bytes);
  if (checked !== undefined) return { ok: false, reason: checked };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const term = readUint64(view, 1);
  const vote = readUint64(view, 9);
  const commit = readUint64(view, 17);
  if (term === undefined || vote === undefined || commit === undefined) {
    return { ok: false, reason: 'term, vote or commit is beyond 2^53' };
  }
  return { ok: true, value: { term, vote, commit } };
}

export function encodeSnapshotMarker(marker: SnapshotMarker): Uint8Array {
  const bytes = new Uint8Array(snapshotMarkerRecordBytes);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, recordFormatVersion);
  writeUint64(view, 1, marker.index);
  writeUint64(view, 9, marker.term);
  sealChecksum(bytes);
  return bytes;
}

export function decodeSnapshotMarker(bytes: Uint8Array): DecodeResult<SnapshotMarker> {
  if (bytes.length !== snapshotMarkerRecordBytes) {
    return {
      ok: false,
      reason: `snapshot marker record is ${bytes.length} bytes, expected ${snapshotMarkerRecordBytes}`,
    };
  }
  const checked = checkVersionAndChecksum(bytes);
  if (checked !== undefined) return { ok: false, reason: checked };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const index = readUint64(view, 1);
  const term = readUint64(view, 9);
  if (index === undefined || term === undefined) {
    return { ok: false, reason: 'snapshot index or term is beyond 2^53' };
  }
  return { ok: true, value: { index, term } };
}

function sealChecksum(bytes: Uint8Array): void {
  const bodyLength = bytes.length - checksumBytes;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  view.setUint32(bodyLength, crc32(bytes.subarray(0, bodyLength)));
}

/** Returns why the record is unreadable, or undefined when its version and checksum are good. */
function checkVersionAndChecksum(bytes: Uint8Array): string | undefined {
  const version = bytes[0];
  if (version !== recordFormatVersion) {
    return `record format version ${version}, this lockd reads version ${recordFormatVersion}`;
  }
  const bodyLength = bytes.length - checksumBytes;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stored = view.getUint32(bodyLength);
  const computed = crc32(bytes.subarray(0, bodyLength));
  if (stored !== computed) {
    return `checksum mismatch (stored ${hex(stored)}, computed ${hex(computed)})`;
  }
  return undefined;
}

function writeUint64(view: DataView, offset: number, value: number): void {
  assert(
    Number.isSafeInteger(value) && value >= 0,
    `cannot store ${value}: not a non-negative safe integer`,
  );
  view.setBigUint64(offset, BigInt(value));
}

function readUint64(view: DataView, offset: number): number | undefined {
  const value = view.getBigUint64(offset);
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : undefined;
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}
