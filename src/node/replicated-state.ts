/**
 * The node's side of each Ready (the contract is written on `Ready` in raft/types.ts): apply the
 * committed entries already durable here, persist, send, restore a snapshot, apply the other
 * committed entries to the lock state machine, answer reads; then, between batches, let the
 * leader's duties and the membership catch up and take a snapshot every `snapshotEvery` applied
 * entries, or further apart when the state is large (snapshotInterval).
 * Owns the lock state machine, which a snapshot replaces.
 */
import { LockdError } from '../errors.js';
import { decodeCommand } from '../locks/codec.js';
import { LockStateMachine } from '../locks/state-machine.js';
import type { RawNode } from '../raft/raw-node.js';
import { type Entry, EntryType, type Message, type Ready, type Snapshot } from '../raft/types.js';
import type { RaftStorage } from '../storage/storage.js';
import type { PeerTransport } from '../transport/transport.js';
import { assert } from '../util/assert.js';
import type { ConditionWaiters } from './conditions.js';
import type { EventHistory } from './events.js';
import type { LeaderDuties } from './leader-duties.js';
import type { NodeLogger } from './logger.js';
import { Membership } from './membership.js';
import { decodeNodeSnapshot, encodeNodeSnapshot } from './node-snapshot.js';
import type { Proposer } from './proposer.js';
import type { ReadBarrier } from './reads.js';
import { eventView } from './views.js';

/**
 * A snapshot costs time in proportion to the whole state (about a second for a million locks,
 * with the event loop blocked), while the log it replaces grows by one entry per write. With a
 * fixed interval, a large state would spend most of its time snapshotting. So, as etcd and TiKV
 * size their log compaction, a snapshot also waits until the log since the last one has at least
 * this many entries per held lock: the snapshot cost per entry stays constant whatever the size,
 * and a restart replays at most that many entries (a tenth of the locks) after the snapshot.
 */
export const snapshotLogEntriesPerLock = 0.1;

/**
 * How many of a Ready's committed entries, from the first, may be applied before its persistence
 * (Ready step 3). A leader learns that a batch committed while it appends the next one; applying
 * the batch first answers its clients without waiting for the next batch's fdatasync.
 *
 * Only while the commit index is below the first entry this Ready persists: the core counts a
 * leader's own log whole, durable or not, so a commit index that reaches into this Ready may rest
 * on entries that are on no disk yet (on a single voter, always). Below it, a quorum holds the
 * commit index's entry durably, and with it every entry before. Then entries from the first, up
 * to the first that is not a lock command or a leader's no-op. None with a snapshot, which is
 * restored after persistence.
 */
export function durableCommittedCount(ready: Ready): number {
  if (ready.snapshot !== undefined) return 0;
  const firstUnstable = ready.entries[0]?.index ?? Number.POSITIVE_INFINITY;
  // Without a hard state the commit index is the previous Ready's, durable since then.
  if (ready.hardState !== undefined && ready.hardState.commit >= firstUnstable) return 0;
  let count = 0;
  for (const entry of ready.committedEntries) {
    if (entry.index >= firstUnstable || entry.type === EntryType.confChange) break;
    if (Membership.isNodeEntry(entry)) break;
    count++;
  }
  return count;
}

/** Resolves on a later turn of the event loop, once every callback due now has run. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** How many entries are applied between two snapshots of a state holding `lockCount` locks. */
export function snapshotInterval(snapshotEvery: number, lockCount: number): number {
  return Math.max(snapshotEvery, Math.ceil(lockCount * snapshotLogEntriesPerLock));
}

export interface ReplicatedStateOptions {
  readonly raft: RawNode;
  readonly storage: RaftStorage;
  readonly logger: NodeLogger;
  readonly history: EventHistory;
  readonly proposer: Proposer;
  readonly duties: LeaderDuties;
  readonly membership: Membership;
  readonly reads: ReadBarrier;
  readonly conditions: ConditionWaiters;
  readonly snapshotEvery: number;
  /** The peer link, once started (never, on a node without one). */
  readonly transport: () => PeerTransport | undefined;
}

export class ReplicatedState {
  readonly #options: ReplicatedStateOptions;
  #locks = new LockStateMachine();

  constructor(options: ReplicatedStateOptions) {
    this.#options = options;
  }

  get locks(): LockStateMachine {
    return this.#locks;
  }

  /** The Ready contract, steps 0 to 4. */
  async handleReady(ready: Ready): Promise<void> {
    const { storage, reads, logger, raft, proposer } = this.#options;
    this.#send(ready.earlyMessages);
    // Only where proposals wait for their results (on a leader): on a follower nothing waits for
    // the apply, while its acknowledgement, sent after the fsync, would wait for it.
    const pendingBefore = proposer.pending.size;
    const durable = pendingBefore > 0 ? durableCommittedCount(ready) : 0;
    if (durable > 0) {
      this.#apply(ready.committedEntries, 0, durable);
      // Appended entries are fdatasynced below, which blocks this thread: the answers just
      // settled leave first.
      if (ready.entries.length > 0 && proposer.pending.size < pendingBefore) await nextTurn();
    }
    if (ready.snapshot !== undefined || ready.hardState !== undefined || ready.entries.length > 0) {
      await storage.save({
        snapshot: ready.snapshot,
        hardState: ready.hardState,
        entries: ready.entries,
      });
    }
    this.#send(ready.messages);
    if (ready.snapshot !== undefined) this.restore(ready.snapshot);
    this.#apply(ready.committedEntries, durable, ready.committedEntries.length);
    reads.confirmed(ready.readStates);
    if (ready.softState !== undefined) {
      logger.info({ ...ready.softState, term: raft.status().term }, 'raft role changed');
    }
  }

  #send(messages: readonly Message[]): void {
    if (messages.length === 0) return;
    // A membership change appended in this batch may name a peer to send to.
    this.#options.membership.syncPeers();
    const transport = this.#options.transport();
    assert(transport !== undefined, 'a node without a peer link has no one to send to');
    transport.send(messages);
  }

  /** Between batches (after advance()). */
  async afterAdvance(): Promise<void> {
    const { duties, membership, conditions } = this.#options;
    duties.sync();
    duties.expiry.rearm();
    membership.syncPeers();
    membership.publishMissing();
    conditions.check();
    await this.#compactIfDue();
  }

  /** Replaces the whole state with a snapshot's (events before it cannot be replayed). */
  restore(snapshot: Snapshot): void {
    const { membership, history, duties, proposer, logger } = this.#options;
    const decoded = decodeNodeSnapshot(snapshot.data);
    const restored = LockStateMachine.restore(decoded.locks);
    assert(
      restored.appliedIndex === snapshot.index,
      `snapshot at ${snapshot.index} holds a state applied to ${restored.appliedIndex}`,
    );
    this.#locks = restored;
    membership.restored(snapshot, decoded.members);
    history.markMissingThrough(snapshot.index);
    duties.expiry.rearm();
    proposer.pending.failThrough(
      snapshot.index,
      new LockdError(
        'LOCKD_ERR_NOT_LEADER',
        'Leadership moved before the change was known to commit; read the lock to see whether it did',
      ),
    );
    logger.info(
      { index: snapshot.index, term: snapshot.term, locks: restored.size },
      'state restored from a snapshot',
    );
  }

  /** Applies entries[from, to). */
  #apply(entries: readonly Entry[], from: number, to: number): void {
    if (from >= to) return;
    const { history, duties, proposer, membership, reads } = this.#options;
    for (let position = from; position < to; position++) {
      const entry = entries[position];
      assert(entry !== undefined, `no committed entry at ${position}`);
      if (entry.type === EntryType.normal && !Membership.isNodeEntry(entry)) {
        const command = decodeCommand(entry.data);
        const applied = this.#locks.apply(entry.index, command);
        for (const event of applied.events) history.record(eventView(event), event);
        if (command.kind !== 'extend-leases') duties.queueChanged(command.name);
        proposer.pending.settle(entry.index, entry.term, applied.result);
      } else {
        // A leader's no-op, a membership change (the core applies it) or the node's own record.
        this.#locks.applyNoop(entry.index);
        proposer.pending.settle(entry.index, entry.term, undefined);
      }
      membership.applied(entry);
    }
    reads.applied();
  }

  /** Every snapshotInterval() applied entries: snapshot the state, compact the log, persist both. */
  async #compactIfDue(): Promise<void> {
    const { raft, membership, storage, logger, snapshotEvery } = this.#options;
    const appliedIndex = this.#locks.appliedIndex;
    const status = raft.status();
    const interval = snapshotInterval(snapshotEvery, this.#locks.size);
    if (appliedIndex - status.snapshotIndex < interval) return;
    assert(status.appliedIndex === appliedIndex, 'the core and the state machine applied apart');
    const startedMs = performance.now();
    const data = encodeNodeSnapshot({
      members: membership.book.replicated(),
      locks: this.#locks.snapshot(),
    });
    const encodedMs = performance.now();
    const snapshot = raft.compact(appliedIndex, data);
    if (snapshot === undefined) return;
    await storage.compact(snapshot);
    // What a snapshot costs, in the log: the next batch waits for both the encoding and the
    // storing (the snapshot file is written with synchronous calls).
    const encodeMs = Math.round(encodedMs - startedMs);
    const storeMs = Math.round(performance.now() - encodedMs);
    logger.info(
      { index: snapshot.index, term: snapshot.term, bytes: data.length, encodeMs, storeMs },
      'snapshot taken, log compacted',
    );
  }
}
