/**
 * The bytes of a whole lock state (for Raft snapshots). Deterministic: the same state gives the
 * same bytes on every node, locks in name order, holders in grant order. Layout, versioned by its
 * first byte (field encodings in bytes.ts):
 *
 *   version(1 byte = 2) appliedIndex timeMs lastGrantIndex lockCount lock*
 *   lock:  name mode(1 byte: 0 exclusive, 1 shared) limit? holderCount holder*
 *   holder: owner (byte string, empty = anonymous) token acquiredAtMs ttlMs? expiresAtMs? renewed
 *
 * `renewed` is a byte, 0 or 1. Version 1 (lockd before it) had no `renewed`: its holds read as
 * renewed, which is the safe side (a clean-up then leaves them to their lease or their owner).
 *
 * Decoding checks every invariant of the state machine, so a restored state is one apply() could
 * have produced.
 */
import { ByteReader, ByteWriter, MalformedBytesError } from './bytes.js';
import { commandNameBytesMax, commandOwnerBytesMax } from './codec.js';
import type { Hold, LockMode } from './commands.js';

export const snapshotFormatVersion = 2;
/** Snapshots written before holds carried `renewed`. */
const snapshotFormatVersionWithoutRenewed = 1;

export interface LockRecordData {
  readonly mode: LockMode;
  readonly limit: number | null;
  readonly holders: readonly Hold[];
}

export interface SnapshotData {
  readonly appliedIndex: number;
  readonly timeMs: number;
  /** The index of the newest grant; every token is at most this. */
  readonly lastGrantIndex: number;
  /** Sorted by name, strictly ascending. */
  readonly locks: readonly (readonly [string, LockRecordData])[];
}

export class MalformedSnapshotError extends Error {
  override readonly name = 'MalformedSnapshotError';
}

const modeByte = { exclusive: 0, shared: 1 } as const;

export function encodeSnapshot(data: SnapshotData): Uint8Array {
  const writer = new ByteWriter()
    .byte(snapshotFormatVersion)
    .uint(data.appliedIndex)
    .uint(data.timeMs)
    .uint(data.lastGrantIndex)
    .uint(data.locks.length);
  for (const [name, lock] of data.locks) {
    writer.byteString(name).byte(modeByte[lock.mode]).optionalUint(lock.limit);
    writer.uint(lock.holders.length);
    for (const hold of lock.holders) {
      writer
        .byteString(hold.owner ?? '')
        .uint(hold.token)
        .uint(hold.acquiredAtMs)
        .optionalUint(hold.ttlMs)
        .optionalUint(hold.expiresAtMs)
        .byte(hold.renewed ? 1 : 0);
    }
  }
  return writer.finish();
}

export function decodeSnapshot(bytes: Uint8Array): SnapshotData {
  try {
    return readSnapshot(new ByteReader(bytes));
  } catch (error) {
    if (error instanceof MalformedBytesError) {
      throw new MalformedSnapshotError(`malformed lock snapshot: ${error.message}`);
    }
    throw error;
  }
}

function readSnapshot(reader: ByteReader): SnapshotData {
  const version = reader.byte();
  if (version !== snapshotFormatVersion && version !== snapshotFormatVersionWithoutRenewed) {
    fail(`unknown snapshot version ${version}`);
  }
  const withRenewed = version === snapshotFormatVersion;
  const appliedIndex = reader.uint();
  const timeMs = reader.uint();
  const lastGrantIndex = reader.uint();
  if (lastGrantIndex > appliedIndex) fail(`last grant ${lastGrantIndex} after ${appliedIndex}`);
  const lockCount = reader.uint();
  const locks: [string, LockRecordData][] = [];
  const tokens = new Set<number>();
  let previousName: string | undefined;
  for (let count = 0; count < lockCount; count++) {
    const name = reader.byteString('name', 1, commandNameBytesMax);
    if (previousName !== undefined && !(previousName < name)) fail(`lock ${name} out of order`);
    previousName = name;
    const lock = readLock(reader, name, lastGrantIndex, withRenewed);
    for (const hold of lock.holders) {
      if (tokens.has(hold.token)) fail(`token ${hold.token} held twice`);
      tokens.add(hold.token);
    }
    locks.push([name, lock]);
  }
  reader.end();
  return { appliedIndex, timeMs, lastGrantIndex, locks };
}

function readLock(
  reader: ByteReader,
  name: string,
  lastGrantIndex: number,
  withRenewed: boolean,
): LockRecordData {
  const modeValue = reader.byte();
  if (modeValue !== modeByte.exclusive && modeValue !== modeByte.shared) {
    fail(`lock ${name}: mode byte ${modeValue}`);
  }
  const mode: LockMode = modeValue === modeByte.shared ? 'shared' : 'exclusive';
  const limit = reader.optionalUint();
  if (limit === 0 || (mode === 'exclusive' && limit !== null)) fail(`lock ${name}: limit ${limit}`);
  const holderCount = reader.uint();
  if (holderCount < 1 || (mode === 'exclusive' && holderCount !== 1)) {
    fail(`lock ${name}: ${holderCount} holders in ${mode} mode`);
  }
  const holders: Hold[] = [];
  for (let count = 0; count < holderCount; count++) {
    const hold = readHold(reader, name, withRenewed);
    if (hold.token > lastGrantIndex) fail(`lock ${name}: token ${hold.token} after last grant`);
    if (holders.length > 0 && (holders.at(-1)?.token ?? 0) >= hold.token) {
      fail(`lock ${name}: holders out of grant order`);
    }
    if (mode === 'shared' && hold.owner === null) fail(`lock ${name}: anonymous shared holder`);
    if (hold.owner !== null && holders.some((other) => other.owner === hold.owner)) {
      fail(`lock ${name}: owner ${hold.owner} holds twice`);
    }
    holders.push(hold);
  }
  return { mode, limit, holders };
}

function readHold(reader: ByteReader, name: string, withRenewed: boolean): Hold {
  const ownerBytes = reader.byteString('owner', 0, commandOwnerBytesMax);
  const token = reader.uint();
  const acquiredAtMs = reader.uint();
  const ttlMs = reader.optionalUint();
  const expiresAtMs = reader.optionalUint();
  const renewed = withRenewed ? reader.byte() : 1;
  if (renewed > 1) fail(`lock ${name}: renewed byte ${renewed}`);
  if (token < 1) fail(`lock ${name}: token 0`);
  if (ttlMs === 0 || (ttlMs === null) !== (expiresAtMs === null)) {
    fail(`lock ${name}: ttlMs ${ttlMs} with expiresAtMs ${expiresAtMs}`);
  }
  return {
    owner: ownerBytes === '' ? null : ownerBytes,
    token,
    acquiredAtMs,
    ttlMs,
    expiresAtMs,
    renewed: renewed === 1,
  };
}

function fail(message: string): never {
  throw new MalformedSnapshotError(`malformed lock snapshot: ${message}`);
}
