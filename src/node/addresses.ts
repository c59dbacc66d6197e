/**
 * Where a member is reached: its HTTP API (for clients) and its peer link (for the other nodes).
 * The cluster routes show them as `host:port` strings; the peer link needs them parsed.
 */
import type { NodeId } from '../raft/types.js';
import { parseHostPort } from '../util/address.js';

export interface NodeAddress {
  readonly host: string;
  /** 0 = not known yet (a node listening on port 0 learns its real port once it listens). */
  readonly port: number;
}

/** A member's two addresses, as the cluster file gives them. */
export interface MemberAddresses {
  readonly client: NodeAddress;
  readonly peer: NodeAddress;
}

/** A member's addresses as the cluster routes and the log carry them. */
export interface MemberContact {
  readonly id: NodeId;
  readonly clientAddress: string;
  readonly peerAddress: string;
}

/** The longest `host:port` a contact may carry (a DNS name is at most 253 bytes). */
export const addressLengthMax = 300;

/** Formats and parses `host:port`; one definition for the whole code base (src/util/address.ts). */
export { formatAddress } from '../util/address.js';

/** Parses `host:port` (IPv6 in brackets); undefined when it is not one. */
export function parseAddress(text: string): NodeAddress | undefined {
  const parsed = parseHostPort(text);
  return typeof parsed === 'string' ? undefined : parsed;
}

/** The peer address to dial, or undefined when it is not known (unparseable, or port 0). */
export function dialableAddress(contact: MemberContact): NodeAddress | undefined {
  const address = parseAddress(contact.peerAddress);
  return address === undefined || address.port === 0 ? undefined : address;
}

export function isNodeId(value: unknown): value is NodeId {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

export function sameContact(a: MemberContact | undefined, b: MemberContact | undefined): boolean {
  return (
    a !== undefined &&
    b !== undefined &&
    a.id === b.id &&
    a.clientAddress === b.clientAddress &&
    a.peerAddress === b.peerAddress
  );
}
