/**
 * Where a member is reached: its HTTP API (for clients) and its peer link (for the other nodes).
 * The cluster routes show them as `host:port` strings; the peer link needs them parsed.
 */
import type { NodeId } from '../raft/types.js';

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

export function formatAddress(address: NodeAddress): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `${host}:${address.port}`;
}

/** Parses `host:port` (IPv6 in brackets); undefined when it is not one. */
export function parseAddress(text: string): NodeAddress | undefined {
  if (text.length > addressLengthMax) return undefined;
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  if (match === null) return undefined;
  const port = Number(match[3]);
  if (port > 65_535) return undefined;
  return { host: match[1] ?? match[2] ?? '', port };
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
