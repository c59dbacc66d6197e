/**
 * Membership as the node runs it (the Raft core does the consensus part: single-server changes,
 * applied as soon as they are in the log). Here:
 * - adding a member: publish its addresses in the log, add it as a learner, wait (bounded) until
 *   it has caught up, promote it; removing one (the leader too: the core hands over once its own
 *   removal commits);
 * - the address book: applied from the log and snapshots; the leader publishes what the log lacks;
 * - the status of the cluster, for `GET /cluster`.
 * Changes run one at a time on the leader, each bounded by membershipTimeoutMs.
 */
import type { AddMemberRequest, ClusterStatus, MemberStatus } from '../api/cluster-service.js';
import { LockdError } from '../errors.js';
import { decodeConfChangeEntry } from '../raft/configuration.js';
import type { RawNode } from '../raft/raw-node.js';
import {
  type ConfChange,
  type Entry,
  EntryType,
  type NodeId,
  type RaftStatus,
  type SnapshotMetadata,
} from '../raft/types.js';
import type { PeerTransport } from '../transport/transport.js';
import { assert } from '../util/assert.js';
import { AddressBook } from './address-book.js';
import {
  dialableAddress,
  isNodeId,
  type MemberContact,
  parseAddress,
  sameContact,
} from './addresses.js';
import type { ConditionWaiters } from './conditions.js';
import type { NodeLogger } from './logger.js';
import {
  contactsPerEntryMax,
  decodeMemberAddresses,
  encodeMemberAddresses,
  isNodeEntry,
} from './node-entries.js';
import { PeerSet } from './peers.js';
import { noLeaderError, proposeRefusalError } from './proposer.js';
import type { Scheduler, Timer } from './scheduler.js';

export interface MembershipOptions {
  readonly id: NodeId;
  readonly raft: RawNode;
  /** This node's own addresses (its peer port as the transport bound it). */
  readonly self: () => MemberContact;
  readonly conditions: ConditionWaiters;
  readonly scheduler: Scheduler;
  readonly logger: NodeLogger;
  /** The wall clock, epoch milliseconds. */
  readonly clock: () => number;
  readonly membershipTimeoutMs: number;
  readonly scheduleReady: () => void;
  /** This node leads (as of the last batch) / and its lease extension applied. */
  readonly isLeader: () => boolean;
  readonly isReady: () => boolean;
  readonly appliedIndex: () => number;
}

/** What the peer set is computed from. */
interface PeerSyncInputs {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  readonly committed: readonly NodeId[] | undefined;
  readonly bookVersion: number;
}

function sameSyncInputs(next: PeerSyncInputs, previous: PeerSyncInputs | undefined): boolean {
  return (
    previous !== undefined &&
    next.voters === previous.voters &&
    next.learners === previous.learners &&
    next.committed === previous.committed &&
    next.bookVersion === previous.bookVersion
  );
}

/** Membership changes queued on the leader behind the one under way, at most. */
const changesQueuedMax = 16;

export class Membership {
  readonly #options: MembershipOptions;
  readonly book = new AddressBook();
  /** Absent on a node without a peer link (a single node started without `cluster`). */
  #transport: PeerTransport | undefined;
  #peers: PeerSet | undefined;
  readonly #entries: EntryWaiters;
  /** When this node last heard from each peer (wall clock), for `lastContactMsAgo`. */
  readonly #lastHeardMs = new Map<NodeId, number>();
  /**
   * The members as of the last committed change (undefined until one applies: then the bootstrap
   * or snapshot membership, which the core's current one is). A member being removed stays a
   * peer until its removal commits: the change needs its links to commit.
   */
  #committedMembers: readonly NodeId[] | undefined;
  #changes: Promise<unknown> = Promise.resolve();
  #changesQueued = 0;
  #publishing = false;
  /** What the peer set was last synced from. */
  #peersSyncedFrom: PeerSyncInputs | undefined;
  /** The book version and ids publishMissing last found nothing missing in. */
  #foundComplete = '';

  constructor(options: MembershipOptions) {
    this.#options = options;
    this.#entries = new EntryWaiters(options.scheduler);
  }

  /** The peer link is up: from now on it follows the membership. */
  attachTransport(transport: PeerTransport): void {
    assert(this.#transport === undefined, 'the transport is attached once');
    this.#transport = transport;
    this.#peers = new PeerSet(this.#options.id, transport, this.book);
    this.syncPeers();
  }

  /** Whether this node's link to `id` is up. */
  reachable(id: NodeId): boolean {
    return this.#transport?.reachable(id) ?? false;
  }

  // ---- Applying the log ----------------------------------------------------------------------

  /** Whether a normal entry is the node's own (member addresses) rather than a lock command. */
  static isNodeEntry(entry: Entry): boolean {
    return entry.type === EntryType.normal && isNodeEntry(entry.data);
  }

  /** An entry applied (every entry goes through here, after the lock state machine). */
  applied(entry: Entry): void {
    if (Membership.isNodeEntry(entry)) {
      this.book.applyReplicated(decodeMemberAddresses(entry.data));
    } else if (entry.type === EntryType.confChange) {
      const record = decodeConfChangeEntry(entry.data);
      assert(record !== undefined, `entry ${entry.index} is not a valid membership change`);
      const { change } = record;
      this.#committedMembers = [...record.confState.voters, ...record.confState.learners];
      if (change.type === 'remove-voter' || change.type === 'remove-learner') {
        this.book.forgetReplicated(change.node);
        this.#lastHeardMs.delete(change.node);
      }
      this.#options.logger.info(
        { index: entry.index, ...change, ...record.confState },
        'membership change committed',
      );
    }
    this.#entries.settle(entry.index, entry.term);
  }

  /** The state came from a snapshot: its book, and the outcome of changes it covers is unknown. */
  restored(snapshot: SnapshotMetadata, contacts: readonly MemberContact[]): void {
    const { index, confState } = snapshot;
    this.book.restoreReplicated(contacts);
    this.#committedMembers = [...confState.voters, ...confState.learners];
    this.#entries.failThrough(
      index,
      new LockdError(
        'LOCKD_ERR_NOT_LEADER',
        'Leadership moved while the membership change was under way; check GET /cluster and retry',
      ),
    );
  }

  /** Keeps the peer link in line with the membership (before a batch's messages go out). */
  syncPeers(): void {
    if (this.#peers === undefined) return;
    const { voters, learners } = this.#options.raft.status();
    const from = {
      voters,
      learners,
      committed: this.#committedMembers,
      bookVersion: this.book.version,
    };
    // This runs twice a batch, and the peer set parses every member's address. The core keeps a
    // membership's lists until the membership changes, and the committed list and the book change
    // only by replacement, so unchanged inputs are seen by identity and nothing is recomputed.
    if (sameSyncInputs(from, this.#peersSyncedFrom)) return;
    this.#peersSyncedFrom = from;
    const current = [...voters, ...learners];
    this.#peers.sync([...new Set([...current, ...(from.committed ?? [])])]);
  }

  /** Whether `id` is out of the membership, by a change that committed. */
  isRemoved(id: NodeId): boolean {
    const status = this.#options.raft.status();
    const current = [...status.voters, ...status.learners];
    return !current.includes(id) && !(this.#committedMembers ?? current).includes(id);
  }

  /** A message came from `from`. */
  heard(from: NodeId): void {
    if (this.#lastHeardMs.has(from) || this.#lastHeardMs.size < contactsPerEntryMax) {
      this.#lastHeardMs.set(from, this.#options.clock());
    }
  }

  /** After each batch, on the leader: publishes the addresses the log lacks (its own first). */
  publishMissing(): void {
    if (this.#publishing || !this.#options.isReady()) return;
    const status = this.#options.raft.status();
    this.book.learn([this.#options.self()]);
    const ids = [this.#options.id, ...status.voters, ...status.learners];
    // Runs after every batch; finding what is missing parses addresses, so a book and membership
    // found complete are not searched again until one of them changes.
    const checked = `${this.book.version}:${ids.join(',')}`;
    if (checked === this.#foundComplete) return;
    const missing = this.book.unpublished(ids);
    if (missing.length === 0) {
      this.#foundComplete = checked;
      return;
    }
    this.#publishing = true;
    this.#publish(missing, this.#options.membershipTimeoutMs)
      .catch((error: unknown) =>
        this.#options.logger.warn({ err: error }, 'could not publish member addresses; retrying'),
      )
      .finally(() => {
        this.#publishing = false;
      });
  }

  /** What a joining node is told of the members (by the CLI, from POST /cluster/members). */
  learn(contacts: readonly MemberContact[]): void {
    // A member whose addresses the answering node did not know shows them empty: skipped.
    const others = contacts.filter(
      (contact) => contact.id !== this.#options.id && contact.peerAddress !== '',
    );
    if (others.length > contactsPerEntryMax) throw badRequest('too many members');
    for (const contact of others) {
      if (!isNodeId(contact.id)) {
        throw badRequest(`node id ${String(contact.id)} is not a positive integer`);
      }
      if (parseAddress(contact.peerAddress) === undefined) {
        throw badRequest(`peer address of node ${contact.id} must be host:port`);
      }
    }
    this.book.learn(others);
    this.syncPeers();
  }

  failAll(error: LockdError): void {
    this.#entries.failAll(error);
  }

  // ---- Changes, on the leader -----------------------------------------------------------------

  /** Adds `request.id` as a learner, waits for it to catch up, promotes it. Leader only. */
  addAsLeader(request: AddMemberRequest): Promise<ClusterStatus> {
    checkContact(request);
    const contact: MemberContact = {
      id: request.id,
      clientAddress: request.clientAddress,
      peerAddress: request.peerAddress,
    };
    return this.#oneAtATime(async (deadlineMs) => {
      const status = this.#requireLeader();
      const published = this.book.replicatedContact(contact.id);
      if (status.voters.includes(contact.id)) {
        if (sameContact(published, contact)) return this.status();
        throw badRequest(`node ${contact.id} is already a voter, with other addresses`);
      }
      if (!sameContact(published, contact)) {
        if (published === undefined && this.book.replicatedSize >= contactsPerEntryMax) {
          throw badRequest(`the cluster knows ${contactsPerEntryMax} members already`);
        }
        await this.#publish([contact], this.#remainingMs(deadlineMs));
      }
      let addedAt = this.#options.raft.status().commitIndex;
      if (!this.#options.raft.status().learners.includes(contact.id)) {
        addedAt = await this.#change({ type: 'add-learner', node: contact.id }, deadlineMs);
      }
      // Promoted only once it acknowledged the log up to its own addition: its link to the leader
      // works and it is close behind (the core then checks it is within one append).
      const caughtUp = () => this.#matchOf(contact.id) >= addedAt;
      await this.#change({ type: 'promote-learner', node: contact.id }, deadlineMs, caughtUp);
      return this.status();
    });
  }

  /** Removes a voter or a learner (this leader too: the core hands over). Leader only. */
  removeAsLeader(id: NodeId): Promise<ClusterStatus> {
    if (!isNodeId(id)) throw badRequest(`node id ${String(id)} is not a positive integer`);
    return this.#oneAtATime(async (deadlineMs) => {
      const status = this.#requireLeader();
      const learner = status.learners.includes(id);
      if (!learner && !status.voters.includes(id)) {
        throw new LockdError('LOCKD_ERR_NOT_FOUND', `Node ${id} is not a member`);
      }
      await this.#change(
        { type: learner ? 'remove-learner' : 'remove-voter', node: id },
        deadlineMs,
      );
      return this.status();
    });
  }

  // ---- Status ---------------------------------------------------------------------------------

  status(): ClusterStatus {
    const raft = this.#options.raft.status();
    const self = this.#options.self();
    const leader = raft.leader === 0 ? null : raft.leader;
    const members = [...raft.voters, ...raft.learners].sort((a, b) => a - b);
    return {
      id: this.#options.id,
      role: raft.learners.includes(this.#options.id) ? 'learner' : raft.role,
      term: raft.term,
      leader,
      leaderAddress: leader === null ? null : (this.#contact(leader)?.clientAddress ?? null),
      clientAddress: self.clientAddress,
      peerAddress: self.peerAddress,
      commitIndex: raft.commitIndex,
      appliedIndex: this.#options.appliedIndex(),
      snapshotIndex: raft.snapshotIndex,
      members: members.map((id) => this.#memberStatus(id, raft)),
    };
  }

  #memberStatus(id: NodeId, raft: RaftStatus): MemberStatus {
    const self = id === this.#options.id;
    const contact = this.#contact(id);
    const progress = raft.role === 'leader' ? this.#options.raft.progress() : [];
    const matchIndex = self
      ? raft.lastIndex
      : (progress.find((peer) => peer.id === id)?.match ?? null);
    const heardMs = this.#lastHeardMs.get(id);
    return {
      id,
      clientAddress: contact?.clientAddress ?? '',
      peerAddress: contact?.peerAddress ?? '',
      role: id === raft.leader ? 'leader' : raft.learners.includes(id) ? 'learner' : 'follower',
      matchIndex: raft.role === 'leader' ? matchIndex : null,
      lastContactMsAgo:
        self || heardMs === undefined ? null : Math.max(0, this.#options.clock() - heardMs),
      reachable: self || this.reachable(id),
    };
  }

  #contact(id: NodeId): MemberContact | undefined {
    return id === this.#options.id ? this.#options.self() : this.book.get(id);
  }

  // ---- Steps of a change ------------------------------------------------------------------------

  /** Runs `change` after the changes before it; each gets membershipTimeoutMs from its start. */
  #oneAtATime<T>(change: (deadlineMs: number) => Promise<T>): Promise<T> {
    if (this.#changesQueued >= changesQueuedMax) {
      return Promise.reject(
        new LockdError('LOCKD_ERR_OVERLOADED', 'Too many membership changes are queued; retry'),
      );
    }
    this.#changesQueued++;
    const run = this.#changes
      .catch(() => undefined)
      .then(() => change(this.#options.clock() + this.#options.membershipTimeoutMs))
      .finally(() => {
        this.#changesQueued--;
      });
    this.#changes = run;
    return run;
  }

  /**
   * Proposes `change` as soon as the core allows it (and `allowed` says so), then waits for it to
   * commit. Returns the index of its entry.
   */
  async #change(
    change: ConfChange,
    deadlineMs: number,
    allowed: () => boolean = () => true,
  ): Promise<number> {
    let detail = 'not caught up';
    const proposed = await this.#options.conditions.until(
      () => {
        this.#requireLeader();
        if (!allowed()) return undefined;
        const result = this.#options.raft.proposeConfChange(change);
        if (result.ok) return result;
        detail = result.detail;
        switch (result.reason) {
          case 'leader-not-ready':
          case 'change-pending':
          case 'learner-behind':
          case 'too-many-pending':
            return undefined;
          case 'invalid-change':
            throw badRequest(`${change.type} of node ${change.node}: ${result.detail}`);
          case 'not-leader':
          case 'transferring-leadership':
            throw noLeaderError(result.leader);
        }
      },
      this.#remainingMs(deadlineMs),
      () =>
        new LockdError(
          'LOCKD_ERR_TIMEOUT',
          `${change.type} of node ${change.node} could not be made within ${this.#options.membershipTimeoutMs} ms (${detail}); the change is not made, retry it`,
        ),
    );
    this.#options.scheduleReady();
    await this.#entries.wait(proposed.index, proposed.term, this.#remainingMs(deadlineMs));
    return proposed.index;
  }

  /** Leader only: the highest index `id` is known to hold (0 if unknown). */
  #matchOf(id: NodeId): number {
    return this.#options.raft.progress().find((peer) => peer.id === id)?.match ?? 0;
  }

  /** Puts `contacts` in the log and waits for them to apply. */
  async #publish(contacts: readonly MemberContact[], timeoutMs: number): Promise<void> {
    const proposed = this.#options.raft.propose(encodeMemberAddresses(contacts));
    if (!proposed.ok) throw proposeRefusalError(proposed.reason, proposed.leader);
    this.#options.scheduleReady();
    await this.#entries.wait(proposed.index, proposed.term, timeoutMs);
  }

  #requireLeader(): RaftStatus {
    const status = this.#options.raft.status();
    if (!this.#options.isLeader()) throw noLeaderError(status.leader);
    return status;
  }

  #remainingMs(deadlineMs: number): number {
    return Math.max(0, deadlineMs - this.#options.clock());
  }
}

export function checkContact(contact: MemberContact): void {
  if (!isNodeId(contact.id))
    throw badRequest(`node id ${String(contact.id)} is not a positive integer`);
  if (
    typeof contact.clientAddress !== 'string' ||
    parseAddress(contact.clientAddress) === undefined
  ) {
    throw badRequest(`client address of node ${contact.id} must be host:port`);
  }
  if (typeof contact.peerAddress !== 'string' || dialableAddress(contact) === undefined) {
    throw badRequest(`peer address of node ${contact.id} must be host:port with a port`);
  }
}

function badRequest(detail: string): LockdError {
  return new LockdError('LOCKD_ERR_BAD_REQUEST', detail);
}

interface EntryWaiter {
  readonly term: number;
  readonly resolve: () => void;
  readonly reject: (error: LockdError) => void;
  readonly timer: Timer;
}

/** Waits for entries this node proposed to apply: resolved if they did, rejected if replaced. */
class EntryWaiters {
  readonly #scheduler: Scheduler;
  readonly #byIndex = new Map<number, EntryWaiter>();

  constructor(scheduler: Scheduler) {
    this.#scheduler = scheduler;
  }

  wait(index: number, term: number, timeoutMs: number): Promise<void> {
    assert(!this.#byIndex.has(index), `an entry waiter is already at index ${index}`);
    return new Promise<void>((resolve, reject) => {
      const timer = this.#scheduler.after(timeoutMs, () => {
        if (this.#byIndex.get(index)?.timer !== timer) return;
        this.#byIndex.delete(index);
        reject(
          new LockdError(
            'LOCKD_ERR_TIMEOUT',
            `The change at index ${index} did not commit within ${timeoutMs} ms; it may still`,
          ),
        );
      });
      this.#byIndex.set(index, { term, resolve, reject, timer });
    });
  }

  settle(index: number, term: number): void {
    const waiter = this.#byIndex.get(index);
    if (waiter === undefined) return;
    this.#remove(index, waiter);
    if (waiter.term === term) {
      waiter.resolve();
      return;
    }
    waiter.reject(
      new LockdError(
        'LOCKD_ERR_PROPOSAL_DROPPED',
        'The change was dropped by a leader change before it committed; it did not take effect',
      ),
    );
  }

  failThrough(index: number, error: LockdError): void {
    for (const [at, waiter] of [...this.#byIndex]) {
      if (at > index) continue;
      this.#remove(at, waiter);
      waiter.reject(error);
    }
  }

  failAll(error: LockdError): void {
    this.failThrough(Number.MAX_SAFE_INTEGER, error);
  }

  #remove(index: number, waiter: EntryWaiter): void {
    waiter.timer.cancel();
    this.#byIndex.delete(index);
  }
}
