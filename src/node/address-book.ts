/**
 * Where each member is reached. Two sources, the replicated one winning:
 * - replicated: applied from the log (member address entries, node-entries.ts) and restored from
 *   snapshots; the same on every node at the same applied index;
 * - local: what this node was told at start (the cluster file) or by `learnMembers` (a joining
 *   node, before it has the log).
 * The leader publishes local knowledge that the log lacks (its own address first), so that a node
 * that joins later learns every member from the log or a snapshot.
 */
import type { NodeId } from '../raft/types.js';
import { assert } from '../util/assert.js';
import { dialableAddress, type MemberContact, sameContact } from './addresses.js';
import { contactsPerEntryMax } from './node-entries.js';

export class AddressBook {
  readonly #replicated = new Map<NodeId, MemberContact>();
  readonly #local = new Map<NodeId, MemberContact>();
  #version = 0;

  /** Changes whenever a contact does: what was derived from the book at one version still holds. */
  get version(): number {
    return this.#version;
  }

  /** The contact of `id`: the replicated one if any, else the local one. */
  get(id: NodeId): MemberContact | undefined {
    return this.#replicated.get(id) ?? this.#local.get(id);
  }

  /** The contact of `id` as the log has it. */
  replicatedContact(id: NodeId): MemberContact | undefined {
    return this.#replicated.get(id);
  }

  /** Every id with a contact, from either source. */
  ids(): NodeId[] {
    return [...new Set([...this.#replicated.keys(), ...this.#local.keys()])].sort((a, b) => a - b);
  }

  /** The replicated contacts; the leader keeps it within contactsPerEntryMax (see `hasRoom`). */
  get replicatedSize(): number {
    return this.#replicated.size;
  }

  /** A member address entry applied. */
  applyReplicated(contacts: readonly MemberContact[]): void {
    for (const contact of contacts) this.#replicated.set(contact.id, contact);
    this.#version++;
  }

  /** A committed membership change removed `id`: its contact leaves the replicated book. */
  forgetReplicated(id: NodeId): void {
    if (this.#replicated.delete(id)) this.#version++;
  }

  /** The replicated book, for a snapshot. */
  replicated(): MemberContact[] {
    return [...this.#replicated.values()].sort((a, b) => a.id - b.id);
  }

  /** The state came from a snapshot: its book replaces the replicated one. */
  restoreReplicated(contacts: readonly MemberContact[]): void {
    this.#replicated.clear();
    this.applyReplicated(contacts);
  }

  /** What this node was told outside the log. A contact with port 0 is not known yet. */
  learn(contacts: readonly MemberContact[]): void {
    for (const contact of contacts) {
      // The leader tells the book its own contact before every batch: only a change counts.
      if (sameContact(this.#local.get(contact.id), contact)) continue;
      this.#local.set(contact.id, contact);
      this.#version++;
    }
    assert(this.#local.size <= contactsPerEntryMax, 'more members learned than any cluster has');
  }

  /**
   * The contacts of `ids` that the log lacks (or has with a port not known yet) and this node
   * knows: what a leader publishes.
   */
  unpublished(ids: readonly NodeId[]): MemberContact[] {
    const contacts: MemberContact[] = [];
    for (const id of ids) {
      const local = this.#local.get(id);
      const replicated = this.#replicated.get(id);
      if (local === undefined || dialableAddress(local) === undefined) continue;
      if (replicated !== undefined && dialableAddress(replicated) !== undefined) continue;
      if (!sameContact(local, replicated)) contacts.push(local);
    }
    return contacts.slice(0, contactsPerEntryMax);
  }
}
