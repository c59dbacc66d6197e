/**
 * The bytes of a lock command inside a Raft entry. Every node decodes these same bytes, possibly
 * years later after an upgrade, so the layout is fixed and versioned by its first byte:
 *
 *   kind(1) name(n)    kind 1 = acquire, 2 = release; the name as latin1, one byte per character.
 *
 * A later command (refresh, expire, force-release, or acquire with an owner and a TTL) gets a new
 * kind byte with its own layout; existing kinds never change meaning. Names are raw bytes (the api
 * validates them to 1..128 bytes of `$ - . 0-9 A-Z _ a-z`), hence latin1 rather than UTF-8.
 */
import { assert, assertNever } from '../util/assert.js';
import type { LockCommand } from './commands.js';

export const commandKind = {
  acquire: 1,
  release: 2,
} as const;

/** The longest name the codec carries: the api's limit on lock names. */
export const commandNameBytesMax = 128;

/** Bytes that are not a command this lockd knows: a bug upstream or corruption of the log. */
export class MalformedCommandError extends Error {
  override readonly name = 'MalformedCommandError';
}

export function encodeCommand(command: LockCommand): Uint8Array {
  const { name } = command;
  assert(
    name.length >= 1 && name.length <= commandNameBytesMax,
    `lock name of ${name.length} characters`,
  );
  const bytes = new Uint8Array(1 + name.length);
  bytes[0] = kindByte(command);
  for (let offset = 0; offset < name.length; offset++) {
    const code = name.charCodeAt(offset);
    assert(code <= 0xff, `lock name has character ${code} at offset ${offset}: not one byte`);
    bytes[1 + offset] = code;
  }
  return bytes;
}

export function decodeCommand(bytes: Uint8Array): LockCommand {
  const kind = bytes[0];
  switch (kind) {
    case undefined:
      throw new MalformedCommandError('malformed lock command: no bytes');
    case commandKind.acquire:
      return { kind: 'acquire', name: decodeName(bytes) };
    case commandKind.release:
      return { kind: 'release', name: decodeName(bytes) };
    default:
      throw new MalformedCommandError(
        `malformed lock command: unknown kind byte ${kind} (${bytes.length} bytes)`,
      );
  }
}

/** The name that fills the rest of an acquire or release command. */
function decodeName(bytes: Uint8Array): string {
  const nameLength = bytes.length - 1;
  if (nameLength < 1 || nameLength > commandNameBytesMax) {
    throw new MalformedCommandError(
      `malformed lock command: name of ${nameLength} bytes (expected 1 to ${commandNameBytesMax})`,
    );
  }
  return String.fromCharCode(...bytes.subarray(1));
}

function kindByte(command: LockCommand): number {
  switch (command.kind) {
    case 'acquire':
      return commandKind.acquire;
    case 'release':
      return commandKind.release;
    default:
      return assertNever(command, 'unknown lock command');
  }
}
