/**
 * Replays WalStorage's segments, in order, into a WalLogState.
 *
 * Recovery rules:
 * - Records are applied one write at a time (a write ends with the record carrying the write-end
 *   flag, see wal-records.ts), so a write is applied whole or not at all.
 * - A write that is unfinished at the end of the LAST segment (its bytes end early, a frame runs
 *   past the end of the file, or a frame is unreadable and no intact frame follows it) was cut
 *   short by a crash. It was never acknowledged, since a save resolves only after its fsync: it is
 *   dropped, and when the caller allows it, the segment is cut at the write's start.
 * - Anything else is corruption, reported as StorageCorruptError naming the segment and the offset,
 *   never skipped: an unreadable frame with intact frames after it, a damaged frame in an older
 *   segment, a damaged segment head, a record that does not follow the log, a gap in the segment
 *   numbers.
 */
import { assert } from '../util/assert.js';
import { StorageCorruptError } from './log-checks.js';
import { WalLogState } from './wal-log-state.js';
import {
  decodeFrameAt,
  frameHeaderBytes,
  RecordKind,
  recordPayloadBytesMax,
  type WalRecord,
} from './wal-records.js';
import { readSegment, segmentFileName } from './wal-segments.js';

/**
 * Bounds the search for intact frames after a damaged one: at most this many payload bytes are
 * checksummed. Past it the damage is reported as corruption rather than guessed a torn write.
 */
const resyncChecksumBytesMax = 256 * 1024 * 1024;

/** A write cut short at the end of the last segment. */
export interface TornWrite {
  readonly sequence: number;
  /** Where the unfinished write starts: the segment is cut there. */
  readonly offsetBytes: number;
  /** The bytes after that offset, dropped. */
  readonly droppedBytes: number;
  readonly reason: string;
}

export interface ReplayResult {
  readonly state: WalLogState;
  /** The last segment's head size and the end of its last complete write. */
  readonly lastSegment: { readonly headBytes: number; readonly sizeBytes: number };
  readonly tornWrite: TornWrite | undefined;
}

export interface ReplayOptions {
  readonly walDir: string;
  /** The data directory, named in errors. */
  readonly location: string;
  /** Every segment, in order, without gaps (listSegments). */
  readonly sequences: readonly number[];
  readonly collectEntries: boolean;
  /** Whether a torn write at the end of the last segment is dropped (open) or corruption (load). */
  readonly tornWriteAllowed: boolean;
}

/** A segment's outcome: where its complete writes end, and a torn write after them, if any. */
interface SegmentReplay {
  readonly headBytes: number;
  readonly sizeBytes: number;
  readonly tornWrite: TornWrite | undefined;
}

export async function replaySegments(options: ReplayOptions): Promise<ReplayResult> {
  const state = new WalLogState({ collectEntries: options.collectEntries });
  const lastSequence = options.sequences.at(-1);
  assert(lastSequence !== undefined, 'a wal directory holds at least one segment');
  let last: SegmentReplay | undefined;
  for (const sequence of options.sequences) {
    const bytes = await readSegment(options.walDir, sequence, options.location);
    const isLast = sequence === lastSequence;
    last = replaySegment(state, bytes, sequence, options.location);
    if (last.tornWrite !== undefined && !(isLast && options.tornWriteAllowed)) {
      const { offsetBytes, reason } = last.tornWrite;
      const detail = isLast
        ? `a write left unfinished (${reason})`
        : `a write left unfinished (${reason}), in a segment that is not the last`;
      throw corruptAt(options.location, sequence, offsetBytes, detail);
    }
  }
  assert(last !== undefined, 'the loop ran at least once');
  const missing = state.missingEntriesProblem();
  if (missing !== undefined) throw new StorageCorruptError(options.location, missing);
  return {
    state,
    lastSegment: { headBytes: last.headBytes, sizeBytes: last.sizeBytes },
    tornWrite: last.tornWrite,
  };
}

/** Applies one segment's complete writes to `state`. Throws StorageCorruptError. */
function replaySegment(
  state: WalLogState,
  bytes: Uint8Array,
  sequence: number,
  location: string,
): SegmentReplay {
  let pending: { record: WalRecord; offset: number }[] = [];
  let writeStart = 0;
  let headBytes: number | undefined;
  let offset = 0;
  // Every frame is at least a header long, which bounds the loop.
  const framesMax = Math.floor(bytes.length / frameHeaderBytes) + 1;
  for (let frameCount = 0; frameCount < framesMax && offset < bytes.length; frameCount++) {
    const result = decodeFrameAt(bytes, offset);
    if (result.status !== 'ok') {
      // Also for a short frame: a damaged length can make an intact frame look like one.
      assertNothingIntactAfter(bytes, { offset, reason: result.reason }, sequence, location);
      const reason = `the frame at offset ${offset}: ${result.reason}`;
      return tornAt(bytes, { sequence, writeStart, headBytes, reason }, location);
    }
    const { record, endsWrite, nextOffset } = result.frame;
    checkHeaderPlacement(record, offset, sequence, location);
    pending.push({ record, offset });
    if (endsWrite) {
      applyWrite(state, pending, sequence, location);
      pending = [];
      writeStart = nextOffset;
      headBytes ??= nextOffset;
    }
    offset = nextOffset;
  }
  assert(offset === bytes.length, `segment ${sequence}: replay stopped at ${offset}`);
  if (pending.length > 0) {
    const reason = `the file ends after ${pending.length} record(s) of a write, before its last`;
    return tornAt(bytes, { sequence, writeStart, headBytes, reason }, location);
  }
  if (headBytes === undefined) {
    throw corruptAt(location, sequence, 0, 'the segment is empty: it has no head');
  }
  return { headBytes, sizeBytes: bytes.length, tornWrite: undefined };
}

/** The outcome when the write starting at `writeStart` is unfinished. */
function tornAt(
  bytes: Uint8Array,
  where: {
    sequence: number;
    writeStart: number;
    headBytes: number | undefined;
    reason: string;
  },
  location: string,
): SegmentReplay {
  const { sequence, writeStart, headBytes, reason } = where;
  // The head was durable before the segment got its name, so a crash cannot tear it.
  if (headBytes === undefined) {
    throw corruptAt(location, sequence, writeStart, `the segment's head is unreadable: ${reason}`);
  }
  const droppedBytes = bytes.length - writeStart;
  return {
    headBytes,
    sizeBytes: writeStart,
    tornWrite: { sequence, offsetBytes: writeStart, droppedBytes, reason },
  };
}

function checkHeaderPlacement(
  record: WalRecord,
  offset: number,
  sequence: number,
  location: string,
): void {
  const isHeader = record.kind === RecordKind.segmentHeader;
  if (offset === 0 && !isHeader) {
    throw corruptAt(location, sequence, 0, 'the segment does not start with its header');
  }
  if (offset !== 0 && isHeader) {
    throw corruptAt(location, sequence, offset, 'a segment header inside the segment');
  }
  if (isHeader && record.header.sequence !== sequence) {
    throw corruptAt(location, sequence, 0, `the header says segment ${record.header.sequence}`);
  }
}

function applyWrite(
  state: WalLogState,
  records: readonly { record: WalRecord; offset: number }[],
  sequence: number,
  location: string,
): void {
  for (const { record, offset } of records) {
    const problem = state.apply(record);
    if (problem !== undefined) throw corruptAt(location, sequence, offset, problem);
  }
}

/**
 * A damaged frame with an intact frame after it is not a torn write (which leaves nothing intact
 * after the damage): it is corruption. Throws StorageCorruptError when one is found, or when the
 * search runs past its bound.
 */
function assertNothingIntactAfter(
  bytes: Uint8Array,
  damage: { offset: number; reason: string },
  sequence: number,
  location: string,
): void {
  const found = findIntactFrame(bytes, damage.offset + 1);
  if (found === undefined) return;
  const detail =
    found === 'search-bound-reached'
      ? `the search for intact records after it passed ${resyncChecksumBytesMax} bytes`
      : `an intact record follows at offset ${found}`;
  throw corruptAt(
    location,
    sequence,
    damage.offset,
    `${damage.reason}; ${detail}, so this is damage, not a write cut short by a crash`,
  );
}

/** The offset of the first intact frame at or after `from`, if any. */
function findIntactFrame(
  bytes: Uint8Array,
  from: number,
): number | 'search-bound-reached' | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let checksumBytesLeft = resyncChecksumBytesMax;
  for (let offset = from; offset + frameHeaderBytes <= bytes.length; offset++) {
    // Cheap filters first: a known kind, and a length that fits. Only then the checksum.
    const kind = (bytes[offset + 8] ?? 0) & 0x7f;
    if (kind < RecordKind.segmentHeader || kind > RecordKind.snapshotMarker) continue;
    const payloadBytes = view.getUint32(offset);
    if (payloadBytes > recordPayloadBytesMax) continue;
    if (offset + frameHeaderBytes + payloadBytes > bytes.length) continue;
    checksumBytesLeft -= payloadBytes + 1;
    if (checksumBytesLeft < 0) return 'search-bound-reached';
    if (decodeFrameAt(bytes, offset).status === 'ok') return offset;
  }
  return undefined;
}

function corruptAt(
  location: string,
  sequence: number,
  offset: number,
  detail: string,
): StorageCorruptError {
  return new StorageCorruptError(
    location,
    `segment ${segmentFileName(sequence)} at offset ${offset}: ${detail}`,
  );
}
