/**
 * The peer link's framing: every frame is a 4-byte big-endian payload length, a 4-byte CRC-32 of
 * the payload, then the payload (msgpack, or the layout of raft-codec.ts). The length is checked
 * against a maximum before any buffering, so a peer cannot make a node allocate without bound; a
 * bad checksum or length ends the connection.
 */
import { crc32 } from '../util/crc32.js';

export const frameHeaderBytes = 8;

export class FrameError extends Error {
  override readonly name = 'FrameError';
}

export function encodeFrame(payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(frameHeaderBytes + payload.length);
  frame.set(payload, frameHeaderBytes);
  return sealFrame(frame);
}

/** Writes the header of a frame whose payload was written in place after frameHeaderBytes. */
export function sealFrame(frame: Buffer): Buffer {
  const payload = frame.subarray(frameHeaderBytes);
  frame.writeUInt32BE(payload.length, 0);
  frame.writeUInt32BE(crc32(payload), 4);
  return frame;
}

/** Splits a byte stream into verified frame payloads. */
export class FrameDecoder {
  #maxPayloadBytes: number;
  #chunks: Buffer[] = [];
  #bufferedBytes = 0;

  constructor(maxPayloadBytes: number) {
    this.#maxPayloadBytes = maxPayloadBytes;
  }

  /** Lowers or raises the bound, e.g. once a peer has authenticated. */
  set maxPayloadBytes(value: number) {
    this.#maxPayloadBytes = value;
  }

  /** Feeds bytes; returns every payload completed by them. Throws FrameError on a bad frame. */
  push(chunk: Buffer): Buffer[] {
    this.#chunks.push(chunk);
    this.#bufferedBytes += chunk.length;
    const payloads: Buffer[] = [];
    while (this.#bufferedBytes >= frameHeaderBytes) {
      const buffered = this.#flatten();
      const length = buffered.readUInt32BE(0);
      if (length > this.#maxPayloadBytes) {
        throw new FrameError(
          `frame of ${length} bytes exceeds the maximum of ${this.#maxPayloadBytes}`,
        );
      }
      if (buffered.length < frameHeaderBytes + length) break;
      const payload = buffered.subarray(frameHeaderBytes, frameHeaderBytes + length);
      if (crc32(payload) !== buffered.readUInt32BE(4))
        throw new FrameError('frame checksum mismatch');
      payloads.push(Buffer.from(payload));
      this.#chunks = [buffered.subarray(frameHeaderBytes + length)];
      this.#bufferedBytes = buffered.length - frameHeaderBytes - length;
    }
    return payloads;
  }

  #flatten(): Buffer {
    if (this.#chunks.length !== 1) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0] ?? Buffer.alloc(0);
  }
}
