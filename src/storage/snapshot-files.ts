/**
 * Snapshot files: the whole lock state at an applied index, so that the Raft log before it can be
 * discarded. Each file is written atomically (a temporary file, fsync, rename, fsync of the
 * directory) and carries a checksum that is verified on load: a corrupt snapshot stops the node
 * with a clear error, it is never silently skipped (skipping would roll lock state back).
 *
 * Layout: `<dir>/snapshots/<index, 20 digits>.snap`:
 *   8 bytes magic "LOCKDSNP" | u32 format version | u32 CRC-32 of the body | u64 body length | body
 * where the body is msgpack of { index, term, metadata, data }.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { pack, unpack } from 'msgpackr';
import type { ConfState, Snapshot } from '../raft/types.js';
import { crc32 } from '../util/crc32.js';
import { StorageCorruptError } from './log-checks.js';

const magic = Buffer.from('LOCKDSNP', 'latin1');
const formatVersion = 1;
const headerBytes = magic.length + 4 + 4 + 8;
/** Older snapshots kept besides the newest, for an operator's post-mortem; the rest are deleted. */
const snapshotsKept = 2;
const namePattern = /^(\d{20})\.snap$/;

export interface SnapshotRecord {
  readonly index: number;
  readonly term: number;
  /** The Raft core's configuration at `index` (members), opaque to storage. */
  readonly metadata: unknown;
  /** The state machine's own serialization. */
  readonly data: Uint8Array;
}

export function snapshotDirectory(dataDirectory: string): string {
  return join(dataDirectory, 'snapshots');
}

export function writeSnapshotFile(dataDirectory: string, snapshot: SnapshotRecord): string {
  const directory = snapshotDirectory(dataDirectory);
  mkdirSync(directory, { recursive: true });
  const body = pack({
    index: snapshot.index,
    term: snapshot.term,
    metadata: snapshot.metadata,
    data: snapshot.data,
  });
  const header = Buffer.alloc(headerBytes);
  magic.copy(header, 0);
  header.writeUInt32BE(formatVersion, 8);
  header.writeUInt32BE(crc32(body), 12);
  header.writeBigUInt64BE(BigInt(body.length), 16);
  const finalPath = join(directory, `${String(snapshot.index).padStart(20, '0')}.snap`);
  const temporaryPath = `${finalPath}.tmp-${process.pid}`;
  const descriptor = openSync(temporaryPath, 'w', 0o600);
  try {
    writeSync(descriptor, header);
    writeSync(descriptor, body);
    fsyncSync(descriptor);
  } finally {
    closeSync(descriptor);
  }
  renameSync(temporaryPath, finalPath);
  fsyncDirectory(directory);
  const verified = readSnapshotFile(finalPath);
  if (verified.index !== snapshot.index || verified.term !== snapshot.term) {
    throw new StorageCorruptError(finalPath, 'the snapshot read back differs from the one written');
  }
  pruneSnapshots(directory);
  return finalPath;
}

/** The newest snapshot in the data directory, or undefined when there is none. */
export function readLatestSnapshot(dataDirectory: string): SnapshotRecord | undefined {
  const directory = snapshotDirectory(dataDirectory);
  const newest = listSnapshots(directory).at(-1);
  return newest === undefined ? undefined : readSnapshotFile(join(directory, newest));
}

export function readSnapshotFile(path: string): SnapshotRecord {
  const bytes = readFileSync(path);
  if (bytes.length < headerBytes || !bytes.subarray(0, magic.length).equals(magic)) {
    throw new StorageCorruptError(path, 'not a lockd snapshot (bad magic)');
  }
  const version = bytes.readUInt32BE(8);
  if (version !== formatVersion)
    throw new StorageCorruptError(path, `unknown snapshot format version ${version}`);
  const length = Number(bytes.readBigUInt64BE(16));
  const body = bytes.subarray(headerBytes);
  if (body.length !== length) {
    throw new StorageCorruptError(
      path,
      `snapshot body is ${body.length} bytes, header says ${length}`,
    );
  }
  if (crc32(body) !== bytes.readUInt32BE(12))
    throw new StorageCorruptError(path, 'snapshot checksum mismatch');
  const record = unpack(body) as Partial<SnapshotRecord> | null;
  if (
    record === null ||
    typeof record !== 'object' ||
    !Number.isSafeInteger(record.index) ||
    !Number.isSafeInteger(record.term) ||
    !(record.data instanceof Uint8Array)
  ) {
    throw new StorageCorruptError(path, 'snapshot body is malformed');
  }
  return record as SnapshotRecord;
}

function listSnapshots(directory: string): string[] {
  let names: string[];
  try {
    names = readdirSync(directory);
  } catch {
    return [];
  }
  return names.filter((name) => namePattern.test(name)).sort();
}

function pruneSnapshots(directory: string): void {
  const names = listSnapshots(directory);
  for (const name of names.slice(0, Math.max(0, names.length - 1 - snapshotsKept))) {
    rmSync(join(directory, name), { force: true });
  }
}

function fsyncDirectory(directory: string): void {
  const descriptor = openSync(directory, 'r');
  try {
    fsyncSync(descriptor);
  } finally {
    closeSync(descriptor);
  }
}

/** The Raft snapshot a file holds, its membership read from the metadata. */
export function snapshotFromRecord(record: SnapshotRecord, dataDir: string): Snapshot {
  const metadata = record.metadata as { confState?: unknown } | null;
  const confState = typeof metadata === 'object' && metadata !== null ? metadata.confState : null;
  if (!isConfState(confState)) {
    throw new StorageCorruptError(
      dataDir,
      `the snapshot at ${record.index} has no readable membership in its metadata`,
    );
  }
  return {
    index: record.index,
    term: record.term,
    confState: { voters: [...confState.voters], learners: [...confState.learners] },
    // A plain copy: msgpack hands out a Buffer, which may be a view into a shared pool.
    data: new Uint8Array(record.data),
  };
}

function isConfState(value: unknown): value is ConfState {
  if (typeof value !== 'object' || value === null) return false;
  const { voters, learners } = value as Record<string, unknown>;
  return Array.isArray(voters) && Array.isArray(learners);
}
