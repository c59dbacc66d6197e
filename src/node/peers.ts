/**
 * The peer link's view of the membership: which nodes this node keeps a connection to (and
 * accepts connections from, since the transport admits only known peers). Recomputed whenever the
 * membership or the address book may have changed, before each batch's messages are sent.
 */
import type { NodeId } from '../raft/types.js';
import type { PeerTransport } from '../transport/transport.js';
import type { AddressBook } from './address-book.js';
import { dialableAddress, formatAddress } from './addresses.js';

export class PeerSet {
  readonly #selfId: NodeId;
  readonly #transport: PeerTransport;
  readonly #book: AddressBook;
  /** The peers handed to the transport, with the address they were given. */
  readonly #peers = new Map<NodeId, string>();
  /** Set once this node saw itself in the membership: after that it never dials strangers. */
  #wasMember = false;

  constructor(selfId: NodeId, transport: PeerTransport, book: AddressBook) {
    this.#selfId = selfId;
    this.#transport = transport;
    this.#book = book;
  }

  /**
   * Peers are the other members whose address is known. A node that has never been a member
   * (it joins) knows no membership yet: it admits every node it has an address for, so that the
   * leader can reach it. A node being removed keeps the peers it has: a leader removing itself
   * leads until its removal commits, then hands over, and needs its links for both.
   */
  sync(members: readonly NodeId[]): void {
    const isMember = members.includes(this.#selfId);
    if (!isMember && this.#wasMember) return;
    if (isMember && !this.#wasMember) this.#redial();
    if (isMember) this.#wasMember = true;
    const ids = isMember ? members : [...members, ...this.#book.ids()];
    const wanted = new Map<NodeId, string>();
    for (const id of ids) {
      const contact = id === this.#selfId ? undefined : this.#book.get(id);
      const address = contact === undefined ? undefined : dialableAddress(contact);
      if (address !== undefined) wanted.set(id, formatAddress(address));
    }
    for (const [id, address] of [...this.#peers]) {
      if (wanted.get(id) === address) continue;
      this.#transport.removePeer(id);
      this.#peers.delete(id);
    }
    for (const [id, address] of wanted) {
      if (this.#peers.has(id)) continue;
      const contact = this.#book.get(id);
      const dialable = contact === undefined ? undefined : dialableAddress(contact);
      if (dialable === undefined) continue;
      this.#transport.addPeer(id, dialable);
      this.#peers.set(id, address);
    }
  }

  /**
   * This node just joined: the members refused its links until they learned its address, and
   * those links back off for up to seconds. Dialing afresh lets its answers reach them now.
   */
  #redial(): void {
    for (const id of this.#peers.keys()) this.#transport.removePeer(id);
    this.#peers.clear();
  }
}
