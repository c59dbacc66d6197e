/**
 * The bytes of a lock command inside a Raft entry. Every node decodes these same bytes, possibly
 * years later after an upgrade, so the layout is fixed and versioned by its first byte, the kind.
 * Existing kinds never change meaning; a new layout gets a new kind.
 *
 *   1 legacy acquire   name bytes to the end (the seed: anonymous, exclusive, no lease)
 *   2 legacy release   name bytes to the end
 *   3 acquire          nowMs name owner? ttlMs? mode limit? maxLocks maxHoldersPerLock waiterId?
 *   4 release          nowMs name owner? token? handOff?
 *   5 force-release    nowMs name handOff?
 *   6 refresh          nowMs name owner ttlMs?
 *   7 expire           nowMs name token handOff?
 *   8 extend-leases    nowMs
 *   handOff            0 (none) | 1 waiterId owner? ttlMs? mode limit? maxLocks maxHoldersPerLock
 *
 * Field encodings are in bytes.ts (uint, optional uint, byte string); `owner?` is a byte string
 * where the empty string means null; `mode` is one byte, 0 exclusive and 1 shared. Kinds 1 and 2
 * are decoded for logs written by earlier builds and never written again. Names and owners are
 * raw bytes (latin1), as the api validates them.
 *
 * Kind 0xC0 (192) is reserved: the node layer marks its own records (member addresses) with it
 * in normal entries (src/node/node-entries.ts), so no lock command may ever use it.
 */
import { assert, assertNever } from '../util/assert.js';
import { ByteReader, ByteWriter, MalformedBytesError } from './bytes.js';
import type { GrantRequest, HandOff, LockCommand, LockMode } from './commands.js';

export const commandKind = {
  legacyAcquire: 1,
  legacyRelease: 2,
  acquire: 3,
  release: 4,
  forceRelease: 5,
  refresh: 6,
  expire: 7,
  extendLeases: 8,
} as const;

/** The longest name the codec carries: the api's limit on lock names. */
export const commandNameBytesMax = 128;
/** The longest owner the codec carries; the configured limit (maxOwnerBytes) is usually lower. */
export const commandOwnerBytesMax = 1024;

/** The limits that legacy entries, written before limits existed, are applied with. */
export const unlimited = Number.MAX_SAFE_INTEGER;

/** Bytes that are not a command this lockd knows: a bug upstream or corruption of the log. */
export class MalformedCommandError extends Error {
  override readonly name = 'MalformedCommandError';
}

const modeByte = { exclusive: 0, shared: 1 } as const;

export function encodeCommand(command: LockCommand): Uint8Array {
  assertWellFormed(command);
  const writer = new ByteWriter();
  switch (command.kind) {
    case 'acquire':
      writer.byte(commandKind.acquire).uint(command.nowMs).byteString(command.name);
      writeGrantRequest(writer, command);
      return writer.optionalUint(command.waiterId).finish();
    case 'release':
      writer.byte(commandKind.release).uint(command.nowMs).byteString(command.name);
      writer.byteString(command.owner ?? '').optionalUint(command.token);
      return writeHandOff(writer, command.handOff).finish();
    case 'force-release':
      writer.byte(commandKind.forceRelease).uint(command.nowMs).byteString(command.name);
      return writeHandOff(writer, command.handOff).finish();
    case 'refresh':
      writer.byte(commandKind.refresh).uint(command.nowMs).byteString(command.name);
      return writer.byteString(command.owner).optionalUint(command.ttlMs).finish();
    case 'expire':
      writer.byte(commandKind.expire).uint(command.nowMs).byteString(command.name);
      return writeHandOff(writer.uint(command.token), command.handOff).finish();
    case 'extend-leases':
      return writer.byte(commandKind.extendLeases).uint(command.nowMs).finish();
    default:
      return assertNever(command, 'unknown lock command');
  }
}

export function decodeCommand(bytes: Uint8Array): LockCommand {
  const kind = bytes[0];
  if (kind === undefined) throw new MalformedCommandError('malformed lock command: no bytes');
  let command: LockCommand;
  try {
    command = decodeKind(kind, bytes);
  } catch (error) {
    if (!(error instanceof MalformedBytesError || error instanceof MalformedCommandError)) {
      throw error;
    }
    throw new MalformedCommandError(
      `malformed lock command: kind ${kind} (${bytes.length} bytes): ${error.message}`,
    );
  }
  const problem = problemWith(command);
  if (problem !== undefined) {
    throw new MalformedCommandError(`malformed lock command: kind ${kind}: ${problem}`);
  }
  return command;
}

function decodeKind(kind: number, bytes: Uint8Array): LockCommand {
  switch (kind) {
    case commandKind.legacyAcquire:
      return legacyAcquire(decodeLegacyName(bytes));
    case commandKind.legacyRelease:
      return legacyRelease(decodeLegacyName(bytes));
    case commandKind.acquire:
    case commandKind.release:
    case commandKind.forceRelease:
    case commandKind.refresh:
    case commandKind.expire:
    case commandKind.extendLeases: {
      const reader = new ByteReader(bytes.subarray(1));
      const command = decodeBody(kind, reader);
      reader.end();
      return command;
    }
    default:
      throw new MalformedCommandError(`unknown kind byte ${kind}`);
  }
}

function decodeBody(kind: number, reader: ByteReader): LockCommand {
  const nowMs = reader.uint();
  if (kind === commandKind.extendLeases) return { kind: 'extend-leases', nowMs };
  const name = readName(reader);
  switch (kind) {
    case commandKind.acquire: {
      const request = readGrantRequest(reader);
      return { kind: 'acquire', nowMs, name, ...request, waiterId: reader.optionalUint() };
    }
    case commandKind.release: {
      const owner = readOptionalOwner(reader);
      const token = reader.optionalUint();
      return { kind: 'release', nowMs, name, owner, token, handOff: readHandOff(reader) };
    }
    case commandKind.forceRelease:
      return { kind: 'force-release', nowMs, name, handOff: readHandOff(reader) };
    case commandKind.refresh: {
      const owner = reader.byteString('owner', 1, commandOwnerBytesMax);
      return { kind: 'refresh', nowMs, name, owner, ttlMs: reader.optionalUint() };
    }
    case commandKind.expire: {
      const token = reader.uint();
      return { kind: 'expire', nowMs, name, token, handOff: readHandOff(reader) };
    }
    default:
      throw new MalformedCommandError(`unknown kind byte ${kind}`);
  }
}

/** The seed's acquire: anonymous, exclusive, no lease, no limits, no time stamp. */
function legacyAcquire(name: string): LockCommand {
  return {
    kind: 'acquire',
    nowMs: 0,
    name,
    owner: null,
    ttlMs: null,
    mode: 'exclusive',
    limit: null,
    maxLocks: unlimited,
    maxHoldersPerLock: unlimited,
    waiterId: null,
  };
}

function legacyRelease(name: string): LockCommand {
  return { kind: 'release', nowMs: 0, name, owner: null, token: null, handOff: null };
}

function decodeLegacyName(bytes: Uint8Array): string {
  const nameLength = bytes.length - 1;
  if (nameLength < 1 || nameLength > commandNameBytesMax) {
    throw new MalformedCommandError(
      `name of ${nameLength} bytes (expected 1 to ${commandNameBytesMax})`,
    );
  }
  return String.fromCharCode(...bytes.subarray(1));
}

function readName(reader: ByteReader): string {
  return reader.byteString('name', 1, commandNameBytesMax);
}

function readOptionalOwner(reader: ByteReader): string | null {
  const owner = reader.byteString('owner', 0, commandOwnerBytesMax);
  return owner === '' ? null : owner;
}

function readMode(reader: ByteReader): LockMode {
  const byte = reader.byte();
  if (byte === modeByte.exclusive) return 'exclusive';
  if (byte === modeByte.shared) return 'shared';
  throw new MalformedCommandError(`unknown mode byte ${byte}`);
}

function readGrantRequest(reader: ByteReader): GrantRequest {
  const owner = readOptionalOwner(reader);
  const ttlMs = reader.optionalUint();
  const mode = readMode(reader);
  const limit = reader.optionalUint();
  const maxLocks = reader.uint();
  return { owner, ttlMs, mode, limit, maxLocks, maxHoldersPerLock: reader.uint() };
}

function readHandOff(reader: ByteReader): HandOff | null {
  const present = reader.byte();
  if (present === 0) return null;
  if (present !== 1) throw new MalformedCommandError(`hand-off marker ${present}`);
  const waiterId = reader.uint();
  return { waiterId, ...readGrantRequest(reader) };
}

function writeGrantRequest(writer: ByteWriter, request: GrantRequest): ByteWriter {
  return writer
    .byteString(request.owner ?? '')
    .optionalUint(request.ttlMs)
    .byte(modeByte[request.mode])
    .optionalUint(request.limit)
    .uint(request.maxLocks)
    .uint(request.maxHoldersPerLock);
}

function writeHandOff(writer: ByteWriter, handOff: HandOff | null): ByteWriter {
  if (handOff === null) return writer.byte(0);
  return writeGrantRequest(writer.byte(1).uint(handOff.waiterId), handOff);
}

/** Encoding a command that could not have come from a valid request is a bug upstream. */
function assertWellFormed(command: LockCommand): void {
  const problem = problemWith(command);
  assert(problem === undefined, `lock command ${command.kind}: ${problem}`);
}

/** What makes a command impossible (decoded bytes or one about to be encoded), if anything. */
function problemWith(command: LockCommand): string | undefined {
  if (!Number.isSafeInteger(command.nowMs) || command.nowMs < 0) return `nowMs ${command.nowMs}`;
  if (command.kind === 'extend-leases') return undefined;
  const { name } = command;
  if (!isByteString(name, 1, commandNameBytesMax)) {
    return `lock name of ${name.length} characters, or not one byte each`;
  }
  switch (command.kind) {
    case 'acquire':
      return problemWithRequest(command) ?? problemWithId('waiterId', command.waiterId, 0);
    case 'release':
      return (
        problemWithOwner(command.owner, false) ??
        problemWithId('token', command.token, 1) ??
        problemWithHandOff(command.handOff)
      );
    case 'force-release':
      return problemWithHandOff(command.handOff);
    case 'refresh':
      return problemWithOwner(command.owner, true) ?? problemWithId('ttlMs', command.ttlMs, 1);
    case 'expire':
      return problemWithId('token', command.token, 1) ?? problemWithHandOff(command.handOff);
    default:
      return assertNever(command, 'unknown lock command');
  }
}

function problemWithRequest(request: GrantRequest): string | undefined {
  if (request.mode === 'shared' && request.owner === null) return 'a shared grant without owner';
  if (request.mode === 'exclusive' && request.limit !== null)
    return 'an exclusive grant with limit';
  return (
    problemWithOwner(request.owner, false) ??
    problemWithId('ttlMs', request.ttlMs, 1) ??
    problemWithId('limit', request.limit, 1) ??
    problemWithId('maxLocks', request.maxLocks, 1, unlimited) ??
    problemWithId('maxHoldersPerLock', request.maxHoldersPerLock, 1, unlimited)
  );
}

function problemWithHandOff(handOff: HandOff | null): string | undefined {
  if (handOff === null) return undefined;
  return problemWithId('waiterId', handOff.waiterId, 0) ?? problemWithRequest(handOff);
}

function problemWithOwner(owner: string | null, required: boolean): string | undefined {
  if (owner === null) return required ? 'no owner' : undefined;
  return isByteString(owner, 1, commandOwnerBytesMax)
    ? undefined
    : `owner of ${owner.length} characters, or not one byte each`;
}

/**
 * A number that must be an integer from `min` to `max` (or null where allowed). The default `max`
 * leaves room for the optional encoding, which stores value + 1.
 */
function problemWithId(
  what: string,
  value: number | null,
  min: number,
  max = unlimited - 1,
): string | undefined {
  if (value === null) return undefined;
  return Number.isSafeInteger(value) && value >= min && value <= max
    ? undefined
    : `${what} ${value}`;
}

function isByteString(value: string, minLength: number, maxLength: number): boolean {
  if (value.length < minLength || value.length > maxLength) return false;
  for (let offset = 0; offset < value.length; offset++) {
    if (value.charCodeAt(offset) > 0xff) return false;
  }
  return true;
}
