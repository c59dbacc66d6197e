/**
 * The node's own records in normal Raft entries, beside the lock commands (locks/codec.ts). The
 * first byte of a normal entry is a lock command's kind (1 to 8 today); `nodeEntryKind` is far
 * from them and must never be used by the lock codec (test/node/node-entries.test.ts checks that
 * decodeCommand refuses it).
 *
 * Member addresses: kind(1) version(1) count(2) then per member: id(8, float64) clientLength(2)
 * client(n) peerLength(2) peer(n). Addresses are `host:port` in UTF-8; integers big-endian. Every
 * node applies them to its address book, so that whoever leads next can reach every member, and
 * a snapshot carries the book to nodes that join later.
 */
import { assert } from '../util/assert.js';
import { addressLengthMax, isNodeId, type MemberContact } from './addresses.js';

export const nodeEntryKind = 0xc0;
const memberAddressesVersion = 1;
/** Far above any real cluster: a bound on what a decoder allocates for a corrupt record. */
export const contactsPerEntryMax = 1024;

export class MalformedNodeEntryError extends Error {
  override readonly name = 'MalformedNodeEntryError';
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function isNodeEntry(data: Uint8Array): boolean {
  return data[0] === nodeEntryKind;
}

export function encodeMemberAddresses(contacts: readonly MemberContact[]): Uint8Array {
  assert(contacts.length >= 1 && contacts.length <= contactsPerEntryMax, 'contacts per entry');
  const encoded = contacts.map((contact) => {
    assert(isNodeId(contact.id), `member id ${contact.id}`);
    const client = encoder.encode(contact.clientAddress);
    const peer = encoder.encode(contact.peerAddress);
    assert(client.length <= addressLengthMax && peer.length <= addressLengthMax, 'address length');
    return { id: contact.id, client, peer };
  });
  const size = encoded.reduce(
    (total, item) => total + 12 + item.client.length + item.peer.length,
    4,
  );
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, nodeEntryKind);
  view.setUint8(1, memberAddressesVersion);
  view.setUint16(2, encoded.length);
  let offset = 4;
  for (const item of encoded) {
    view.setFloat64(offset, item.id);
    offset = writeBytes(bytes, view, offset + 8, item.client);
    offset = writeBytes(bytes, view, offset, item.peer);
  }
  assert(offset === size, 'member addresses record length');
  return bytes;
}

/** The contacts in a node entry. Throws MalformedNodeEntryError on bytes that are not one. */
export function decodeMemberAddresses(data: Uint8Array): MemberContact[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.length < 4 || data[0] !== nodeEntryKind) throw malformed('not a node entry');
  if (view.getUint8(1) !== memberAddressesVersion) {
    throw malformed(`unknown member addresses version ${view.getUint8(1)}`);
  }
  const count = view.getUint16(2);
  if (count < 1 || count > contactsPerEntryMax) throw malformed(`${count} members`);
  const contacts: MemberContact[] = [];
  let offset = 4;
  for (let position = 0; position < count; position++) {
    if (offset + 8 > data.length) throw malformed('truncated');
    const id = view.getFloat64(offset);
    if (!isNodeId(id)) throw malformed(`member id ${id}`);
    const client = readText(data, view, offset + 8);
    const peer = readText(data, view, client.end);
    offset = peer.end;
    contacts.push({ id, clientAddress: client.text, peerAddress: peer.text });
  }
  if (offset !== data.length)
    throw malformed(`${data.length - offset} bytes after the last member`);
  return contacts;
}

function writeBytes(bytes: Uint8Array, view: DataView, offset: number, value: Uint8Array): number {
  view.setUint16(offset, value.length);
  bytes.set(value, offset + 2);
  return offset + 2 + value.length;
}

function readText(
  data: Uint8Array,
  view: DataView,
  offset: number,
): { readonly text: string; readonly end: number } {
  if (offset + 2 > data.length) throw malformed('truncated');
  const length = view.getUint16(offset);
  const end = offset + 2 + length;
  if (length > addressLengthMax || end > data.length) throw malformed('truncated address');
  try {
    return { text: decoder.decode(data.subarray(offset + 2, end)), end };
  } catch {
    throw malformed('an address is not UTF-8');
  }
}

function malformed(detail: string): MalformedNodeEntryError {
  return new MalformedNodeEntryError(`malformed member addresses entry: ${detail}`);
}
