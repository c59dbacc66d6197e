/**
 * WalStorage's segment files: `<dataDir>/wal/<sequence, 16 digits>.wal`, numbered from 1 without
 * gaps (compaction deletes only the oldest). A segment is created whole (its head written to a
 * temporary file, fsynced, renamed into place, the directory fsynced), so a segment file never
 * lacks its head; after that it only grows, one write per save, each followed by fdatasync.
 *
 * The appends, one per ready batch, are synchronous: the event loop waits for the write and the
 * fdatasync, as Redis's does with appendfsync always. Through libuv's thread pool (fs.promises)
 * each batch cost two thread hand-offs: on the 2-core VM of docs/benchmarks.md, 45–95 µs more CPU
 * and 50–110 µs more latency than the 82 µs an inline append takes (`bench/fsync.ts`). A hybrid
 * (the write inline, the fdatasync on the pool) was measured too: on an idle machine inline gave
 * 5–30% more throughput in every 3-node load (three interleaved rounds each); with another
 * process using the disk the hybrid did 45% better in the uncontended spread placement, where a
 * follower's loop waiting for its disk stops forwarding requests. A disk that stalls stalls the node's loop too,
 * heartbeats included, so a leader stuck on its disk is replaced by an election instead of
 * holding the cluster up while it heartbeats. The rarer writes (a segment's creation,
 * truncation, deletion) go through fs.promises.
 */

import { fdatasyncSync, writeSync } from 'node:fs';
import {
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  stat,
  unlink,
} from 'node:fs/promises';
import { join } from 'node:path';
import { assert } from '../util/assert.js';
import { StorageCorruptError } from './log-checks.js';

export const walDirectoryName = 'wal';

const segmentNamePattern = /^(\d{16})\.wal$/;
const temporarySuffix = '.tmp';
const sequenceDigits = 16;

/**
 * Larger than any segment lockd writes (segments rotate at 64 MiB by default; one write may carry
 * it past that): a bigger file is refused before it is read into memory.
 */
export const segmentFileBytesMax = 1024 * 1024 * 1024;

/** A write the kernel takes in pieces is retried; this many pieces means something is wrong. */
const writePiecesMax = 1024;

export function walDirectory(dataDir: string): string {
  return join(dataDir, walDirectoryName);
}

export function segmentFileName(sequence: number): string {
  assert(Number.isSafeInteger(sequence) && sequence >= 1, `segment sequence ${sequence}`);
  return `${String(sequence).padStart(sequenceDigits, '0')}.wal`;
}

/** Creates the wal directory if it is missing, durably (the data directory is fsynced after). */
export async function ensureWalDirectory(dataDir: string): Promise<void> {
  const created = await mkdir(walDirectory(dataDir), { recursive: true });
  if (created !== undefined) await fsyncDirectory(dataDir);
}

/**
 * The sequence numbers of the segment files, in order. A gap between them is corruption: a
 * segment in the middle of the log is missing.
 */
export async function listSegments(walDir: string, location: string): Promise<number[]> {
  const sequences: number[] = [];
  for (const name of await readdir(walDir)) {
    const match = segmentNamePattern.exec(name);
    if (match?.[1] !== undefined) sequences.push(Number(match[1]));
  }
  sequences.sort((left, right) => left - right);
  for (let position = 1; position < sequences.length; position++) {
    const previous = sequences[position - 1] ?? 0;
    const sequence = sequences[position] ?? 0;
    if (sequence !== previous + 1) {
      throw new StorageCorruptError(
        location,
        `segment ${segmentFileName(previous)} is followed by ${segmentFileName(sequence)}: ` +
          `${sequence - previous - 1} segment(s) are missing`,
      );
    }
  }
  return sequences;
}

/** Removes the temporary files of segments whose creation a crash interrupted. */
export async function removeTemporarySegments(walDir: string): Promise<void> {
  for (const name of await readdir(walDir)) {
    if (name.endsWith(temporarySuffix)) await unlink(join(walDir, name));
  }
}

/** Reads a whole segment file. */
export async function readSegment(
  walDir: string,
  sequence: number,
  location: string,
): Promise<Uint8Array> {
  const path = join(walDir, segmentFileName(sequence));
  const { size } = await stat(path);
  if (size > segmentFileBytesMax) {
    throw new StorageCorruptError(
      location,
      `segment ${segmentFileName(sequence)} is ${size} bytes, more than any segment lockd writes`,
    );
  }
  return readFile(path);
}

/** Cuts a segment at `lengthBytes` (a write torn by a crash), durably. */
export async function truncateSegment(
  walDir: string,
  sequence: number,
  lengthBytes: number,
): Promise<void> {
  const handle = await open(join(walDir, segmentFileName(sequence)), 'r+');
  try {
    await handle.truncate(lengthBytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Deletes segments, oldest first (a crash in between leaves a gapless suffix), durably. */
export async function deleteSegments(walDir: string, sequences: readonly number[]): Promise<void> {
  for (const sequence of sequences) await unlink(join(walDir, segmentFileName(sequence)));
  await fsyncDirectory(walDir);
}

export async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The segment being appended to. */
export class SegmentWriter {
  readonly sequence: number;
  /** The bytes of the segment's head (its header and hard state). */
  readonly headBytes: number;
  readonly #handle: FileHandle;
  #sizeBytes: number;
  /** An append was written without fdatasync since the last one that synced. */
  #unsynced = false;

  private constructor(options: {
    sequence: number;
    handle: FileHandle;
    headBytes: number;
    sizeBytes: number;
  }) {
    this.sequence = options.sequence;
    this.#handle = options.handle;
    this.headBytes = options.headBytes;
    this.#sizeBytes = options.sizeBytes;
  }

  /** Creates segment `sequence` holding `head`, atomically and durably (see the file comment). */
  static async create(walDir: string, sequence: number, head: Uint8Array): Promise<SegmentWriter> {
    const path = join(walDir, segmentFileName(sequence));
    const temporaryPath = `${path}${temporarySuffix}`;
    const temporary = await open(temporaryPath, 'w', 0o600);
    try {
      await writeFully(temporary, head, 0);
      await temporary.sync();
    } finally {
      await temporary.close();
    }
    // Refuses to replace a segment: the sequence must be new.
    await assertMissing(path);
    await rename(temporaryPath, path);
    await fsyncDirectory(walDir);
    return SegmentWriter.openForAppend(walDir, sequence, {
      headBytes: head.length,
      sizeBytes: head.length,
    });
  }

  /** Opens an existing segment to append after its first `sizeBytes` bytes. */
  static async openForAppend(
    walDir: string,
    sequence: number,
    sizes: { readonly headBytes: number; readonly sizeBytes: number },
  ): Promise<SegmentWriter> {
    const handle = await open(join(walDir, segmentFileName(sequence)), 'r+');
    return new SegmentWriter({ sequence, handle, ...sizes });
  }

  get sizeBytes(): number {
    return this.#sizeBytes;
  }

  /**
   * Writes `bytes` at the end of the segment, then, when `sync`, fdatasync, both blocking (see
   * the file comment): durable when this resolves if `sync`, else with the next synced append.
   */
  async append(bytes: Uint8Array, sync: boolean): Promise<void> {
    writeFullySync(this.#handle.fd, bytes, this.#sizeBytes);
    if (sync) fdatasyncSync(this.#handle.fd);
    this.#sizeBytes += bytes.length;
    this.#unsynced = !sync;
  }

  /**
   * Makes an unsynced append durable. Called before a newer segment begins: later fdatasyncs go
   * to that file, and a write cut short is only tolerated at the end of the last segment.
   */
  syncIfUnsynced(): void {
    if (!this.#unsynced) return;
    fdatasyncSync(this.#handle.fd);
    this.#unsynced = false;
  }

  async close(): Promise<void> {
    await this.#handle.close();
  }
}

function writeFullySync(fd: number, bytes: Uint8Array, position: number): void {
  let written = 0;
  for (let piece = 0; piece < writePiecesMax && written < bytes.length; piece++) {
    const bytesWritten = writeSync(fd, bytes, written, bytes.length - written, position + written);
    if (bytesWritten === 0) throw new Error(`a write at ${position + written} wrote nothing`);
    written += bytesWritten;
  }
  if (written < bytes.length) {
    throw new Error(`a write of ${bytes.length} bytes stopped at ${written} bytes`);
  }
}

async function writeFully(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let written = 0;
  for (let piece = 0; piece < writePiecesMax && written < bytes.length; piece++) {
    const { bytesWritten } = await handle.write(
      bytes,
      written,
      bytes.length - written,
      position + written,
    );
    if (bytesWritten === 0) throw new Error(`a write at ${position + written} wrote nothing`);
    written += bytesWritten;
  }
  if (written < bytes.length) {
    throw new Error(`a write of ${bytes.length} bytes stopped at ${written} bytes`);
  }
}

async function assertMissing(path: string): Promise<void> {
  try {
    await stat(path);
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return;
    throw error;
  }
  throw new Error(`segment ${path} exists already: refusing to replace it`);
}
