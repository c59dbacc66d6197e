/**
 * CRC-32 (IEEE 802.3, the polynomial of zip and PNG). LMDB does not checksum its pages, so every
 * record lockd stores carries its own checksum: a flipped bit on disk must be found on load, not
 * replayed into the state machine.
 *
 * zlib.crc32 (Node 20.15 and 22.2 on) is used when the runtime has it: it is about 30 times faster
 * than the table below, which matters for a snapshot of a million locks (25 MB checksummed on
 * every write, read-back and restart). Earlier Node 20 releases use the table.
 */
import * as zlib from 'node:zlib';

const polynomialReversed = 0xedb88320;

const table: Uint32Array = buildTable();

/** zlib's CRC-32, when this Node has it (the same polynomial and result as the table's). */
const nativeCrc32: ((bytes: Uint8Array) => number) | undefined =
  typeof zlib.crc32 === 'function' ? (bytes) => zlib.crc32(bytes) : undefined;

function buildTable(): Uint32Array {
  const result = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let remainder = byte;
    for (let bit = 0; bit < 8; bit++) {
      remainder = remainder & 1 ? (remainder >>> 1) ^ polynomialReversed : remainder >>> 1;
    }
    result[byte] = remainder >>> 0;
  }
  return result;
}

/** The CRC-32 of `bytes`, as an unsigned 32-bit integer. */
export function crc32(bytes: Uint8Array): number {
  return nativeCrc32 === undefined ? crc32ByTable(bytes) : nativeCrc32(bytes);
}

/** The same checksum computed in JavaScript, one byte at a time (exported for tests). */
export function crc32ByTable(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let offset = 0; offset < bytes.length; offset++) {
    crc = (crc >>> 8) ^ (table[(crc ^ (bytes[offset] as number)) & 0xff] as number);
  }
  return (crc ^ 0xffffffff) >>> 0;
}
