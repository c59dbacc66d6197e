// The WAL's record framing: every kind reads back exactly, the write-end flag marks a write's
// last record, and a bad frame is described, never thrown.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decodeFrameAt,
  encodeWrite,
  frameHeaderBytes,
  MarkerCause,
  RecordKind,
  recordPayloadBytesMax,
  type WalRecord,
  walFormatVersion,
} from '../../src/storage/wal-records.js';
import { crc32 } from '../../src/util/crc32.js';
import { confChangeEntry, noopEntry, normalEntry } from './helpers.js';

const records: WalRecord[] = [
  {
    kind: RecordKind.segmentHeader,
    header: {
      formatVersion: walFormatVersion,
      sequence: 7,
      snapshotIndex: 2 ** 40,
      snapshotTerm: 3,
      lastIndex: 2 ** 40 + 5,
      lastTerm: Number.MAX_SAFE_INTEGER,
    },
  },
  { kind: RecordKind.hardState, hardState: { term: 9, vote: 2, commit: 2 ** 33 } },
  { kind: RecordKind.entry, entry: normalEntry(11, 9) },
  { kind: RecordKind.entry, entry: noopEntry(12, 9) },
  { kind: RecordKind.entry, entry: confChangeEntry(13, 9) },
  { kind: RecordKind.snapshotMarker, marker: { index: 5, term: 2, cause: MarkerCause.compaction } },
  {
    kind: RecordKind.snapshotMarker,
    marker: { index: 50, term: 4, cause: MarkerCause.leaderSnapshot },
  },
];

/** Every frame of `bytes`, in order. */
function decodeAll(bytes: Uint8Array): { record: WalRecord; endsWrite: boolean }[] {
  const frames: { record: WalRecord; endsWrite: boolean }[] = [];
  let offset = 0;
  for (let count = 0; count < 100 && offset < bytes.length; count++) {
    const result = decodeFrameAt(bytes, offset);
    assert.equal(result.status, 'ok', `frame at ${offset}`);
    if (result.status !== 'ok') break;
    frames.push({ record: result.frame.record, endsWrite: result.frame.endsWrite });
    offset = result.frame.nextOffset;
  }
  return frames;
}

/** A frame with the given length, kind byte and payload, and a correct checksum. */
function frame(payloadBytes: number, kindByte: number, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(frameHeaderBytes + payload.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, payloadBytes);
  bytes[8] = kindByte;
  bytes.set(payload, frameHeaderBytes);
  view.setUint32(4, crc32(bytes.subarray(8)));
  return bytes;
}

describe('WAL records', () => {
  test('every kind reads back exactly; only the last record of a write ends it', () => {
    const decoded = decodeAll(encodeWrite(records));
    assert.deepEqual(
      decoded.map(({ record }) => record),
      records,
    );
    assert.deepEqual(
      decoded.map(({ endsWrite }) => endsWrite),
      [false, false, false, false, false, false, true],
    );
  });

  test('decoded entries own their bytes, as plain Uint8Arrays', () => {
    const bytes = Buffer.from(encodeWrite([{ kind: RecordKind.entry, entry: normalEntry(1, 1) }]));
    const result = decodeFrameAt(bytes, 0);
    assert.ok(result.status === 'ok' && result.frame.record.kind === RecordKind.entry);
    const { data } = result.frame.record.entry;
    assert.equal(Object.getPrototypeOf(data), Uint8Array.prototype);
    bytes.fill(0);
    assert.deepEqual(data, normalEntry(1, 1).data);
  });

  const bad: { name: string; bytes: Uint8Array; expected: { status: string; reason: RegExp } }[] = [
    {
      name: 'fewer bytes than a frame header',
      bytes: new Uint8Array(8),
      expected: { status: 'short', reason: /^8 bytes left, less than a frame header$/ },
    },
    {
      name: 'a length beyond the limit (refused before anything is read)',
      bytes: frame(recordPayloadBytesMax + 1, RecordKind.entry, new Uint8Array(0)),
      expected: {
        status: 'bad',
        reason: new RegExp(`^a frame length of ${recordPayloadBytesMax + 1} bytes is beyond`),
      },
    },
    {
      name: 'a frame running past the end',
      bytes: frame(40, RecordKind.entry, new Uint8Array(30)),
      expected: { status: 'short', reason: /^a frame of 40 payload bytes runs 10 bytes past/ },
    },
    {
      name: 'an unknown kind',
      bytes: frame(3, 9, new Uint8Array(3)),
      expected: { status: 'bad', reason: /^unknown record kind 9$/ },
    },
    {
      name: 'a hard state of the wrong size',
      bytes: frame(3, RecordKind.hardState, new Uint8Array(3)),
      expected: { status: 'bad', reason: /^a hard state record of 3 payload bytes$/ },
    },
    {
      name: 'a term beyond 2^53',
      bytes: frame(24, RecordKind.hardState, new Uint8Array(24).fill(0xff)),
      expected: { status: 'bad', reason: /^a hard state field is beyond 2\^53$/ },
    },
    {
      name: 'another segment format version',
      bytes: frame(44, RecordKind.segmentHeader, new Uint8Array(44)),
      expected: { status: 'bad', reason: /^segment format version 0, this lockd reads/ },
    },
  ];
  for (const { name, bytes, expected } of bad) {
    test(`a bad frame is described: ${name}`, () => {
      const result = decodeFrameAt(bytes, 0);
      assert.equal(result.status, expected.status);
      assert.ok(result.status !== 'ok');
      assert.match(result.reason, expected.reason);
    });
  }

  test('a flipped bit in the checksum, kind or payload is a checksum mismatch', () => {
    const bytes = encodeWrite([{ kind: RecordKind.entry, entry: normalEntry(3, 1) }]);
    for (let position = 4; position < bytes.length; position++) {
      const damaged = new Uint8Array(bytes);
      damaged[position] = (damaged[position] ?? 0) ^ 0x01;
      const result = decodeFrameAt(damaged, 0);
      assert.equal(result.status, 'bad', `byte ${position}`);
      assert.ok(result.status === 'bad' && /^checksum mismatch/.test(result.reason));
    }
  });
});
