// The on-disk record layout: round trips, and every damaged record is refused (never misread).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type Entry, EntryType, type HardState } from '../../src/raft/types.js';
import {
  decodeEntry,
  decodeHardState,
  decodeSnapshotMarker,
  encodeEntry,
  encodeHardState,
  encodeSnapshotMarker,
} from '../../src/storage/record-codec.js';
import { AssertionError } from '../../src/util/assert.js';
import { crc32 } from '../../src/util/crc32.js';

const seed = Number(process.env.LOCKD_TEST_SEED ?? 0xd15c);
// fc.record builds objects without a prototype; the spreads below give them Object's.
const safeInteger = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });

const entryArbitrary: fc.Arbitrary<Entry> = fc.oneof(
  fc
    .record({
      term: safeInteger,
      index: safeInteger,
      type: fc.constant(EntryType.normal),
      data: fc.uint8Array({ maxLength: 300, size: 'max' }),
    })
    .map((entry) => ({ ...entry })),
  fc
    .record({
      term: safeInteger,
      index: safeInteger,
      type: fc.constant(EntryType.noop),
      data: fc.constant(new Uint8Array(0)),
    })
    .map((entry) => ({ ...entry })),
  // The codec does not look inside a membership change's data; the log checks do.
  fc
    .record({
      term: safeInteger,
      index: safeInteger,
      type: fc.constant(EntryType.confChange),
      data: fc.uint8Array({ maxLength: 100 }),
    })
    .map((entry) => ({ ...entry })),
);
const hardStateArbitrary: fc.Arbitrary<HardState> = fc
  .record({
    term: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    vote: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    commit: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
  })
  .map((hardState) => ({ ...hardState }));

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const damaged = bytes.slice();
  const position = Math.floor(bit / 8) % damaged.length;
  damaged[position] = (damaged[position] ?? 0) ^ (1 << (bit % 8));
  return damaged;
}

describe('crc32', () => {
  test('matches the standard check value', () => {
    assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
    assert.equal(crc32(new Uint8Array(0)), 0);
  });
});

describe(`record codec (fast-check seed ${seed}; LOCKD_TEST_SEED replays)`, () => {
  test('an entry record is 22 bytes plus its data, and decodes back exactly', () => {
    fc.assert(
      fc.property(entryArbitrary, (entry) => {
        const bytes = encodeEntry(entry);
        assert.equal(bytes.length, 22 + entry.data.length);
        assert.deepEqual(decodeEntry(bytes), { ok: true, value: entry });
      }),
      { seed, numRuns: 500 },
    );
  });

  test('a hard state record is 29 bytes and decodes back exactly', () => {
    fc.assert(
      fc.property(hardStateArbitrary, (hardState) => {
        const bytes = encodeHardState(hardState);
        assert.equal(bytes.length, 29);
        assert.deepEqual(decodeHardState(bytes), { ok: true, value: hardState });
      }),
      { seed, numRuns: 500 },
    );
  });

  test('any single flipped bit is refused', () => {
    fc.assert(
      fc.property(entryArbitrary, hardStateArbitrary, fc.nat(), (entry, hardState, bit) => {
        assert.equal(decodeEntry(flipBit(encodeEntry(entry), bit)).ok, false);
        assert.equal(decodeHardState(flipBit(encodeHardState(hardState), bit)).ok, false);
      }),
      { seed, numRuns: 1000 },
    );
  });

  test('a cut-short record is refused', () => {
    fc.assert(
      fc.property(entryArbitrary, hardStateArbitrary, fc.nat(), (entry, hardState, cut) => {
        const entryBytes = encodeEntry(entry);
        assert.equal(decodeEntry(entryBytes.subarray(0, cut % entryBytes.length)).ok, false);
        const hardStateBytes = encodeHardState(hardState);
        assert.equal(decodeHardState(hardStateBytes.subarray(0, cut % 29)).ok, false);
      }),
      { seed, numRuns: 500 },
    );
  });

  test('reasons name what is wrong', () => {
    const bytes = encodeEntry({
      term: 1,
      index: 1,
      type: EntryType.normal,
      data: new Uint8Array(1),
    });
    assert.deepEqual(decodeEntry(bytes.subarray(0, 5)), {
      ok: false,
      reason: 'entry record is 5 bytes, shorter than its header',
    });
    const unknownType = bytes.slice();
    unknownType[1] = 9;
    // Re-seal so that only the type is wrong.
    new DataView(unknownType.buffer).setUint32(19, crc32(unknownType.subarray(0, 19)));
    assert.deepEqual(decodeEntry(unknownType), { ok: false, reason: 'unknown entry type 9' });
    const damaged = decodeEntry(flipBit(bytes, 8 * 20));
    assert.ok(
      !damaged.ok &&
        /^checksum mismatch \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\)$/.test(damaged.reason),
    );
    const future = bytes.slice();
    future[0] = 2;
    assert.deepEqual(decodeEntry(future), {
      ok: false,
      reason: 'record format version 2, this lockd reads version 1',
    });
  });

  test('numbers that are not safe non-negative integers are refused on encode', () => {
    for (const term of [-1, 1.5, 2 ** 53]) {
      assert.throws(
        () => encodeHardState({ term, vote: 0, commit: 0 }),
        AssertionError,
        `term ${term}`,
      );
    }
  });

  test('a snapshot marker decodes back exactly; a damaged one is refused with the reason', () => {
    fc.assert(
      fc.property(safeInteger, safeInteger, fc.nat({ max: 20 * 8 - 1 }), (index, term, bit) => {
        const bytes = encodeSnapshotMarker({ index, term });
        assert.equal(bytes.length, 21);
        assert.deepEqual(decodeSnapshotMarker(bytes), { ok: true, value: { index, term } });
        assert.equal(decodeSnapshotMarker(flipBit(bytes, bit)).ok, false);
      }),
      { seed, numRuns: 300 },
    );
    assert.deepEqual(decodeSnapshotMarker(new Uint8Array(3)), {
      ok: false,
      reason: 'snapshot marker record is 3 bytes, expected 21',
    });
  });
});
