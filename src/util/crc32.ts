/**
 * CRC-32 (IEEE 802.3, the polynomial of zip and PNG). LMDB does not checksum its pages, so every
 * record lockd stores carries its own checksum: a flipped bit on disk must be found on load, not
 * replayed into the state machine. Node 20 has no built-in CRC-32 (zlib.crc32 arrived in 22.2).
 */

const polynomialReversed = 0xedb88320;

const table: Uint32Array = buildTable();

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
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc = (crc >>> 8) ^ (table[(crc ^ byte) & 0xff] ?? 0);
  }
  return (crc ^ 0xffffffff) >>> 0;
}
