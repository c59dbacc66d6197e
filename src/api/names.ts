/**
 * Lock names as the original server took them: the raw path segment after `/lock/`,
 * percent-decoded to bytes (not UTF-8 text; `+` stays `+`), then checked byte by byte.
 * The messages are part of the compatibility contract: clients and scripts match on them.
 */

export const maxLockNameBytes = 128;

/** The result of reading one raw path segment as a lock name. */
export type LockNameParse =
  | { readonly kind: 'valid'; readonly name: string }
  | { readonly kind: 'invalid'; readonly message: string }
  /** The decoded bytes contain `/`: such a path does not match the lock route at all. */
  | { readonly kind: 'route-mismatch' };

export const invalidPercentEncodingMessage = 'Invalid percent-encoding in lock name';

const slashByte = 0x2f;
const percentByte = 0x25;

/** allowedNameBytes[b] is 1 for exactly the bytes `$ - . 0-9 A-Z _ a-z`. */
const allowedNameBytes: Uint8Array = buildAllowedNameBytes();

function buildAllowedNameBytes(): Uint8Array {
  const table = new Uint8Array(256);
  const allow = (first: string, last: string): void => {
    for (let byte = first.charCodeAt(0); byte <= last.charCodeAt(0); byte++) table[byte] = 1;
  };
  allow('$', '$');
  allow('-', '.');
  allow('0', '9');
  allow('A', 'Z');
  allow('_', '_');
  allow('a', 'z');
  return table;
}

export function isAllowedNameByte(byte: number): boolean {
  return allowedNameBytes[byte] === 1;
}

function hexDigitValue(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x41 + 10;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x61 + 10;
  return -1;
}

/**
 * Percent-decodes `text` to raw bytes, or returns undefined when a `%` is not followed by two hex
 * digits. Characters outside ASCII cannot arrive over a socket (Node's parser refuses them in the
 * request target), so they are taken as their UTF-8 bytes, the way a client would have sent them.
 */
export function decodePercentEncoding(text: string): Uint8Array | undefined {
  const input = Buffer.from(text, 'utf8');
  // Decoding never makes the text longer, so the input length bounds the output.
  const output = new Uint8Array(input.length);
  let outputLength = 0;
  let index = 0;
  while (index < input.length) {
    const byte = input[index];
    if (byte !== percentByte) {
      output[outputLength++] = byte ?? 0;
      index += 1;
      continue;
    }
    const high = hexDigitValue(input[index + 1]);
    const low = hexDigitValue(input[index + 2]);
    if (high < 0 || low < 0) return undefined;
    output[outputLength++] = high * 16 + low;
    index += 3;
  }
  return output.subarray(0, outputLength);
}

/**
 * The first rule a decoded name breaks, as the message the client sees, or undefined for a valid
 * name. The order is the contract: empty, then length, then the first disallowed byte.
 */
export function lockNameProblem(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0) return 'Name is empty string';
  if (bytes.length > maxLockNameBytes) {
    return `Name is too long (${bytes.length} bytes > max of ${maxLockNameBytes})`;
  }
  for (let offset = 0; offset < bytes.length; offset++) {
    const byte = bytes[offset] ?? 0;
    if (!isAllowedNameByte(byte)) {
      return `Name contains non-printable/non-ascii byte ${byte} at offset ${offset}`;
    }
  }
  return undefined;
}

/**
 * Whether `text` is a valid name as it stands: 1 to maxLockNameBytes characters, each an allowed
 * byte (so no `%` to decode). Nearly every name a client sends is one; it is read without copying.
 */
function isPlainValidName(text: string): boolean {
  if (text.length === 0 || text.length > maxLockNameBytes) return false;
  for (let index = 0; index < text.length; index++) {
    if (allowedNameBytes[text.charCodeAt(index)] !== 1) return false;
  }
  return true;
}

/** Reads a raw (still percent-encoded) path segment as a lock name. */
export function parseLockName(rawSegment: string): LockNameParse {
  if (isPlainValidName(rawSegment)) return { kind: 'valid', name: rawSegment };
  const bytes = decodePercentEncoding(rawSegment);
  if (bytes === undefined) return { kind: 'invalid', message: invalidPercentEncodingMessage };
  // A decoded `/` would put the name in a different place in the path: the route does not match.
  if (bytes.includes(slashByte)) return { kind: 'route-mismatch' };
  const problem = lockNameProblem(bytes);
  if (problem !== undefined) return { kind: 'invalid', message: problem };
  // Every allowed byte is ASCII, so the latin1 reading is the exact text of the bytes.
  return { kind: 'valid', name: Buffer.from(bytes).toString('latin1') };
}
