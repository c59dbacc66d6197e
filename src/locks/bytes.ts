/**
 * The primitives of lockd's compact binary layouts (lock commands and state snapshots). Every
 * value has exactly one encoding, so that decoding then encoding gives back the same bytes:
 *
 * - uint: unsigned LEB128 (7 bits a byte, low bits first), 0 to 2^53 - 1, no redundant zero bytes.
 * - optional uint: 0 for null, else the value plus one.
 * - byte string: uint length, then one byte per character (latin1: names and owners are bytes).
 *
 * Readers never trust their input: a value out of range, a truncation or leftover bytes throw
 * MalformedBytesError, which the caller turns into its own error naming what it was decoding.
 */
import { assert } from '../util/assert.js';

export class MalformedBytesError extends Error {
  override readonly name = 'MalformedBytesError';
}

/** A uint needs at most 8 bytes: 8 * 7 = 56 bits cover 2^53 - 1. */
const uintBytesMax = 8;
const initialCapacityBytes = 64;

export class ByteWriter {
  #bytes: Uint8Array;
  #length = 0;

  /** `capacityBytes`: what the caller expects to write (a guess; the buffer grows past it). */
  constructor(capacityBytes: number = initialCapacityBytes) {
    assert(Number.isSafeInteger(capacityBytes) && capacityBytes >= 1, `capacity ${capacityBytes}`);
    this.#bytes = new Uint8Array(capacityBytes);
  }

  /** The number of bytes written so far. */
  get length(): number {
    return this.#length;
  }

  byte(value: number): this {
    if (!(Number.isInteger(value) && value >= 0 && value <= 0xff)) assert(false, `byte ${value}`);
    this.#reserve(1);
    this.#bytes[this.#length++] = value;
    return this;
  }

  uint(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0)
      assert(false, `uint ${value} is not in 0..2^53-1`);
    this.#reserve(uintBytesMax);
    if (value < 0x80) {
      this.#bytes[this.#length++] = value;
      return this;
    }
    let rest = value;
    // Division rather than bit shifts: shifts work on 32 bits only.
    while (rest >= 0x80) {
      this.#bytes[this.#length++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.#bytes[this.#length++] = rest;
    return this;
  }

  optionalUint(value: number | null): this {
    if (value === null) return this.uint(0);
    if (value >= Number.MAX_SAFE_INTEGER) assert(false, `optional uint ${value} is too large`);
    return this.uint(value + 1);
  }

  byteString(value: string): this {
    this.uint(value.length);
    this.#reserve(value.length);
    for (let offset = 0; offset < value.length; offset++) {
      const code = value.charCodeAt(offset);
      if (code > 0xff) assert(false, `character ${code} at offset ${offset} is not one byte`);
      this.#bytes[this.#length++] = code;
    }
    return this;
  }

  /** A copy of what was written, exactly as long as it. */
  finish(): Uint8Array {
    return this.#bytes.slice(0, this.#length);
  }

  #reserve(bytes: number): void {
    const needed = this.#length + bytes;
    if (needed <= this.#bytes.length) return;
    const grown = new Uint8Array(Math.max(needed, this.#bytes.length * 2));
    grown.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = grown;
  }
}

export class ByteReader {
  readonly #bytes: Uint8Array;
  /** The same bytes as a Buffer, made on the first byte string (for its latin1 decoding). */
  #buffer: Buffer | undefined;
  #offset = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  get offset(): number {
    return this.#offset;
  }

  byte(): number {
    const value = this.#bytes[this.#offset];
    if (value === undefined) throw new MalformedBytesError(`truncated at byte ${this.#offset}`);
    this.#offset++;
    return value;
  }

  uint(): number {
    // Most values of a snapshot (counts, modes, short lengths) take one byte.
    const first = this.#bytes[this.#offset];
    if (first !== undefined && first < 0x80) {
      this.#offset++;
      return first;
    }
    return this.#longUint();
  }

  optionalUint(): number | null {
    const stored = this.uint();
    return stored === 0 ? null : stored - 1;
  }

  /** A byte string of `minLength` to `maxLength` bytes; `what` names it in the error. */
  byteString(what: string, minLength: number, maxLength: number): string {
    const length = this.uint();
    if (length < minLength || length > maxLength) {
      throw new MalformedBytesError(
        `${what} of ${length} bytes (expected ${minLength} to ${maxLength})`,
      );
    }
    const end = this.#offset + length;
    if (end > this.#bytes.length) {
      throw new MalformedBytesError(`${what} of ${length} bytes runs past the end`);
    }
    if (length === 0) return '';
    // Buffer's latin1 maps each byte to the character of that code (unlike TextDecoder's). One
    // Buffer view for the whole input: a snapshot holds millions of names.
    this.#buffer ??= Buffer.from(this.#bytes.buffer, this.#bytes.byteOffset, this.#bytes.length);
    const value = this.#buffer.toString('latin1', this.#offset, end);
    this.#offset = end;
    return value;
  }

  #longUint(): number {
    const start = this.#offset;
    let value = 0;
    let scale = 1;
    for (let count = 1; count <= uintBytesMax; count++) {
      const byte = this.byte();
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (byte === 0 && count > 1) {
          throw new MalformedBytesError(`uint at byte ${start} has a redundant zero byte`);
        }
        if (!Number.isSafeInteger(value)) {
          throw new MalformedBytesError(`uint at byte ${start} is beyond 2^53 - 1`);
        }
        return value;
      }
      scale *= 0x80;
    }
    throw new MalformedBytesError(`uint at byte ${start} is longer than ${uintBytesMax} bytes`);
  }

  /** Every byte must have been read: leftovers mean the layout is not the one expected. */
  end(): void {
    if (this.#offset !== this.#bytes.length) {
      throw new MalformedBytesError(
        `${this.#bytes.length - this.#offset} bytes left over after byte ${this.#offset}`,
      );
    }
  }
}
