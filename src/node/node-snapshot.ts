/**
 * The node's snapshot data (Snapshot.data, opaque to the Raft core): the lock state machine's own
 * snapshot and the replicated address book, so that a node restored from it (on restart, or sent
 * by the leader because it was far behind or new) can reach every member.
 *
 * Layout: msgpack of { version: 1, members: [[id, clientAddress, peerAddress], ...], locks: bytes }.
 * Snapshot files carry a checksum of their own; this checks the shape, never trusting the bytes.
 */
import { Packr } from 'msgpackr';
import { addressLengthMax, isNodeId, type MemberContact } from './addresses.js';
import { contactsPerEntryMax } from './node-entries.js';

const snapshotVersion = 1;
/** Plain maps and arrays only, as on the peer link: nothing in the bytes can revive a class. */
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

export interface NodeSnapshot {
  readonly members: readonly MemberContact[];
  /** LockStateMachine.snapshot(). */
  readonly locks: Uint8Array;
}

export class MalformedNodeSnapshotError extends Error {
  override readonly name = 'MalformedNodeSnapshotError';
}

export function encodeNodeSnapshot(snapshot: NodeSnapshot): Uint8Array {
  const members = snapshot.members.map((member) => [
    member.id,
    member.clientAddress,
    member.peerAddress,
  ]);
  return packr.pack({ version: snapshotVersion, members, locks: snapshot.locks });
}

/** Throws MalformedNodeSnapshotError when the bytes are not a node snapshot. */
export function decodeNodeSnapshot(bytes: Uint8Array): NodeSnapshot {
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch (error) {
    throw malformed(`not msgpack: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null) throw malformed('not a map');
  const record = value as Record<string, unknown>;
  if (record.version !== snapshotVersion) throw malformed(`version ${String(record.version)}`);
  if (!(record.locks instanceof Uint8Array)) throw malformed('no lock state');
  const { members } = record;
  if (!Array.isArray(members) || members.length > contactsPerEntryMax) {
    throw malformed('no member list');
  }
  return {
    members: members.map(asContact),
    // A plain copy: msgpack hands out a Buffer, which may be a view into a shared pool.
    locks: new Uint8Array(record.locks),
  };
}

function asContact(value: unknown): MemberContact {
  if (!Array.isArray(value) || value.length !== 3) throw malformed('a member is not a triple');
  const [id, clientAddress, peerAddress] = value as unknown[];
  if (!isNodeId(id) || !isAddressText(clientAddress) || !isAddressText(peerAddress)) {
    throw malformed(`member ${String(id)} is malformed`);
  }
  return { id, clientAddress, peerAddress };
}

function isAddressText(value: unknown): value is string {
  return typeof value === 'string' && value.length <= addressLengthMax;
}

function malformed(detail: string): MalformedNodeSnapshotError {
  return new MalformedNodeSnapshotError(`malformed node snapshot: ${detail}`);
}
