/**
 * Drives one RawNode as src/node/lock-node.ts does, on virtual time: ticks on a timer, and for each
 * Ready apply what was already durable → persist (a simulated fsync) → send → restore/apply the
 * rest → answer reads → advance. Nothing of a Ready leaves the node before its fsync completes,
 * and nothing it appends is applied before that either: exactly the real host's contract
 * (durableCommittedCount; the real host applies early only where proposals wait for results,
 * this one on every node), unless a test-only host bug says otherwise. After advance the
 * host may compact its log behind a snapshot of its state machine, as a real host does.
 *
 * The host also keeps what the invariants read: a mirror of the core's log as of its last Ready
 * (with prefix hashes), the hash chain of what it applied, and the commit index it last persisted.
 * Its state machine is that hash chain: a snapshot of it is the applied index and the chain's hash
 * (plus filler bytes, so that snapshots travel in several chunks).
 */
import { commitBroadcastDelayMs } from '../../src/node/lock-node.js';
import { durableCommittedCount } from '../../src/node/replicated-state.js';
import { RawNode, type RawNodeOptions } from '../../src/raft/raw-node.js';
import type {
  ConfChange,
  ConfChangeResult,
  Entry,
  Message,
  NodeId,
  ProposeResult,
  RaftStatus,
  Random,
  ReadIndexResult,
  ReadState,
  Ready,
  Snapshot,
  TransferResult,
} from '../../src/raft/types.js';
import { assert } from '../../src/util/assert.js';
import type { VirtualClock } from './clock.js';
import type { DiskBatch, SimDisk } from './disk.js';
import { chainHash, emptyLogBase, emptyPrefixHash, HashedLog, type LogBase } from './hashed-log.js';

/** Host-level defects, for showing that the simulator catches what they break. */
export interface HostBugs {
  /** Sends a Ready's messages (votes, acknowledgements) before its fsync completes. */
  readonly sendBeforeSync: boolean;
  /** Applies entries as soon as they are written, before they are committed. */
  readonly applyBeforeCommit: boolean;
  /** Answers reads at once from the local state machine, without ReadIndex. */
  readonly localReads: boolean;
}

/** What the simulator learns from a host as it runs. */
export interface HostObserver {
  /** A Ready was taken: the host's mirror log now equals the core's log. */
  readyTaken(host: NodeHost, ready: Ready): void;
  messageSent(host: NodeHost, message: Message): void;
  entryApplied(host: NodeHost, entry: Entry): void;
  /** A read's answer, handed out once everything before it in its Ready was applied. */
  readAnswered(host: NodeHost, readState: ReadState): void;
}

/** The raft options a run chooses; id, peers, random and persisted are the host's business. */
export type RaftSettings = Omit<
  RawNodeOptions,
  'id' | 'peers' | 'learners' | 'random' | 'persisted'
>;

export interface NodeHostOptions {
  readonly id: NodeId;
  /** The bootstrap voters; empty for a node that starts outside the cluster and may join it. */
  readonly peers: readonly NodeId[];
  readonly clock: VirtualClock;
  readonly disk: SimDisk;
  readonly raft: RaftSettings;
  /** The virtual length of one tick of this node (clocks of different nodes drift apart). */
  readonly tickUs: number;
  /** Compact the log once this many applied entries follow the last snapshot (0: never). */
  readonly compactEveryEntries: number;
  /** Filler bytes in each snapshot, so that it travels in several chunks. */
  readonly snapshotFillerBytes: number;
  readonly bugs: HostBugs;
  readonly observer: HostObserver;
  readonly send: (message: Message) => void;
  /** A fresh random stream for the core of each incarnation. */
  readonly randomFor: (incarnation: number) => Random;
  /** A counter shared by all hosts, to stamp the writes of mirror logs. */
  readonly nextSerial: () => number;
}

/** Readies one host turn handles without an fsync before it yields to other events. */
const readiesPerTurnMax = 64;

/** What the host waits for before it takes the next Ready. */
type Waiting = { readonly kind: 'ready'; readonly ready: Ready } | { readonly kind: 'compaction' };

export class NodeHost {
  readonly id: NodeId;
  readonly disk: SimDisk;
  /** Counts starts: events scheduled by an earlier incarnation are ignored. */
  incarnation = 0;
  /** Undefined while crashed. */
  raw: RawNode | undefined;
  /** The core's log as of its last Ready (written, not necessarily synced). */
  log: HashedLog = new HashedLog();
  /** The state machine: how many entries this incarnation applied, and the hash chain of them. */
  appliedLength = 0;
  appliedHash = emptyPrefixHash;
  /** The commit index of the last hard state handed out (or loaded). */
  knownCommit = 0;
  /** The term in which this node last took a Ready as leader, 0 if its last Ready was not. */
  leaderReadyTerm = 0;
  /** The core's status after the last step (refreshed by the simulator). */
  status: RaftStatus | undefined;
  /** Something happened to this node since the simulator last refreshed its status. */
  touched = false;
  /** Snapshots received from a leader and installed, over every incarnation. */
  snapshotsInstalled = 0;
  readonly #options: NodeHostOptions;
  #waiting: Waiting | undefined;
  /** A commit broadcast is scheduled (see #armCommitBroadcast). */
  #commitBroadcastArmed = false;

  constructor(options: NodeHostOptions) {
    this.id = options.id;
    this.disk = options.disk;
    this.#options = options;
  }

  get alive(): boolean {
    return this.raw !== undefined;
  }

  /** Boots from what the disk holds (snapshot, then log) and starts ticking. */
  start(): void {
    assert(this.raw === undefined, `node ${this.id} is already running`);
    this.incarnation++;
    this.touched = true;
    const persisted = this.disk.load();
    this.raw = new RawNode({
      ...this.#options.raft,
      id: this.id,
      peers: this.#options.peers,
      random: this.#options.randomFor(this.incarnation),
      persisted,
    });
    const base = persisted.snapshot === undefined ? emptyLogBase : snapshotBase(persisted.snapshot);
    this.log = HashedLog.from(base, persisted.entries, this.#options.nextSerial());
    this.appliedLength = base.index;
    this.appliedHash = base.hash;
    this.knownCommit = persisted.hardState.commit;
    this.leaderReadyTerm = 0;
    this.#waiting = undefined;
    this.#commitBroadcastArmed = false;
    this.refreshStatus();
    this.#scheduleTick(this.incarnation);
    this.#pump();
  }

  /** Loses all volatile state; the disk decides what of its in-flight write survives. */
  crash(): void {
    assert(this.raw !== undefined, `node ${this.id} is not running`);
    this.touched = true;
    this.raw = undefined;
    this.status = undefined;
    this.#waiting = undefined;
    this.disk.crash();
  }

  receive(message: Message): void {
    const raw = this.raw;
    if (raw === undefined) return; // A crashed node hears nothing.
    this.touched = true;
    raw.step(message);
    this.#pump();
  }

  propose(data: Uint8Array): ProposeResult | undefined {
    return this.#input((raw) => raw.propose(data));
  }

  proposeConfChange(change: ConfChange): ConfChangeResult | undefined {
    return this.#input((raw) => raw.proposeConfChange(change));
  }

  transferLeadership(to: NodeId): TransferResult | undefined {
    return this.#input((raw) => raw.transferLeadership(to));
  }

  readIndex(requestId: number): ReadIndexResult | undefined {
    if (this.#options.bugs.localReads && this.raw !== undefined) {
      const readState = { requestId, ok: true, index: this.appliedLength } as const;
      this.#options.observer.readAnswered(this, readState);
      return { ok: true };
    }
    return this.#input((raw) => raw.readIndex(requestId));
  }

  campaign(): void {
    this.#input((raw) => raw.campaign());
  }

  /** Compacts now behind a snapshot at the applied index, if no write is under way. */
  compactNow(): Snapshot | undefined {
    const raw = this.raw;
    if (raw === undefined || this.#waiting !== undefined) return undefined;
    this.touched = true;
    return this.#compact(raw);
  }

  refreshStatus(): void {
    this.status = this.raw?.status();
    this.touched = false;
  }

  /** Whether the node leads now and its mirror log is its whole leader's log. */
  leadsWithLog(): boolean {
    const status = this.status;
    return status?.role === 'leader' && this.leaderReadyTerm === status.term;
  }

  #input<T>(call: (raw: RawNode) => T): T | undefined {
    const raw = this.raw;
    if (raw === undefined) return undefined;
    this.touched = true;
    const result = call(raw);
    this.#pump();
    return result;
  }

  #scheduleTick(incarnation: number): void {
    this.#options.clock.schedule(this.#options.tickUs, () => {
      if (this.incarnation !== incarnation || this.raw === undefined) return;
      this.touched = true;
      this.raw.tick();
      this.#pump();
      this.#scheduleTick(incarnation);
    });
  }

  /**
   * As LockNode does (deferCommitBroadcast): a commit index owed to followers once the Readies are
   * handled goes out after commitBroadcastDelayMs unless a batch carries it first.
   */
  #armCommitBroadcast(raw: RawNode): void {
    if (this.#commitBroadcastArmed || !raw.owesCommit()) return;
    this.#commitBroadcastArmed = true;
    const incarnation = this.incarnation;
    this.#options.clock.schedule(commitBroadcastDelayMs * 1_000, () => {
      if (this.incarnation !== incarnation || this.raw === undefined) return;
      this.#commitBroadcastArmed = false;
      this.touched = true;
      this.raw.broadcastCommit();
      this.#pump();
    });
  }

  /** Handles Readies until one needs an fsync (then resumes when it completes) or none is left. */
  #pump(): void {
    for (let turn = 0; turn < readiesPerTurnMax; turn++) {
      const raw = this.raw;
      if (raw !== undefined && this.#waiting === undefined && !raw.hasReady()) {
        this.#armCommitBroadcast(raw);
      }
      if (raw === undefined || this.#waiting !== undefined || !raw.hasReady()) return;
      const ready = raw.ready();
      this.#takeReady(raw, ready);
      this.#sendAll(ready.earlyMessages);
      const durable = durableCommittedCount(ready);
      for (const entry of ready.committedEntries.slice(0, durable)) {
        if (entry.index > this.appliedLength) this.#apply(entry);
      }
      if (
        ready.hardState === undefined &&
        ready.entries.length === 0 &&
        ready.snapshot === undefined
      ) {
        this.#finish(raw, ready, false);
        continue;
      }
      const sentEarly = this.#options.bugs.sendBeforeSync;
      if (sentEarly) this.#send(ready);
      const batch = {
        snapshot: ready.snapshot,
        hardState: ready.hardState,
        entries: ready.entries,
      };
      this.#write({ kind: 'ready', ready }, batch, (live) => this.#finish(live, ready, sentEarly));
      return;
    }
    // A long replay in small batches: yield, as the real host's loop yields to the event loop.
    const incarnation = this.incarnation;
    this.#options.clock.schedule(1, () => {
      if (this.incarnation !== incarnation) return;
      this.touched = true;
      this.#pump();
    });
  }

  /** Writes `batch`; once it is durable, runs `then` and carries on with the next Ready. */
  #write(waiting: Waiting, batch: DiskBatch, then: (raw: RawNode) => void): void {
    this.#waiting = waiting;
    const incarnation = this.incarnation;
    this.disk.write(batch, () => {
      assert(this.incarnation === incarnation && this.#waiting === waiting, 'a stale fsync');
      this.#waiting = undefined;
      const raw = this.raw;
      if (raw === undefined) return;
      this.touched = true;
      then(raw);
      this.#pump();
    });
  }

  #takeReady(raw: RawNode, ready: Ready): void {
    const serial = this.#options.nextSerial();
    if (ready.snapshot !== undefined) this.log.resetTo(snapshotBase(ready.snapshot), serial);
    this.log.write(ready.entries, serial);
    if (ready.hardState !== undefined) this.knownCommit = ready.hardState.commit;
    const status = raw.status();
    this.leaderReadyTerm = status.role === 'leader' ? status.term : 0;
    this.#options.observer.readyTaken(this, ready);
  }

  /** The Ready is durable: send, restore the snapshot, apply, answer reads, advance, compact. */
  #finish(raw: RawNode, ready: Ready, sentEarly: boolean): void {
    if (!sentEarly) this.#send(ready);
    if (ready.snapshot !== undefined) {
      this.snapshotsInstalled++;
      const base = snapshotBase(ready.snapshot);
      this.appliedLength = base.index;
      this.appliedHash = base.hash;
    }
    if (this.#options.bugs.applyBeforeCommit) {
      for (let index = this.appliedLength + 1; index <= this.log.lastIndex; index++) {
        this.#apply(this.log.entry(index));
      }
    }
    for (const entry of ready.committedEntries) {
      if (entry.index > this.appliedLength) this.#apply(entry);
    }
    for (const readState of ready.readStates) this.#options.observer.readAnswered(this, readState);
    raw.advance();
    const every = this.#options.compactEveryEntries;
    if (every > 0 && this.appliedLength - this.log.base.index >= every) this.#compact(raw);
  }

  #compact(raw: RawNode): Snapshot | undefined {
    if (this.appliedLength <= this.log.base.index) return undefined;
    // Only a state the core agrees is applied (an apply-before-commit bug runs ahead of it).
    if (this.appliedLength !== raw.status().appliedIndex) return undefined;
    const data = encodeSnapshot(
      this.appliedLength,
      this.appliedHash,
      this.#options.snapshotFillerBytes,
    );
    const snapshot = raw.compact(this.appliedLength, data);
    if (snapshot === undefined) return undefined;
    assert(snapshot.index === this.appliedLength, 'the snapshot is at the applied index');
    this.log.compactTo(snapshot.index, this.#options.nextSerial());
    this.#write(
      { kind: 'compaction' },
      { compaction: snapshot, hardState: undefined, entries: [] },
      () => {},
    );
    return snapshot;
  }

  #send(ready: Ready): void {
    this.#sendAll(ready.messages);
  }

  #sendAll(messages: readonly Message[]): void {
    for (const message of messages) {
      this.#options.observer.messageSent(this, message);
      this.#options.send(message);
    }
  }

  #apply(entry: Entry): void {
    assert(
      entry.index === this.appliedLength + 1,
      `node ${this.id} applies ${entry.index} after ${this.appliedLength}`,
    );
    this.appliedLength = entry.index;
    this.appliedHash = chainHash(this.appliedHash, entry);
    this.#options.observer.entryApplied(this, entry);
  }
}

/** The applied index and the hash chain's value, as two float64s (exact for safe integers). */
export const snapshotHeaderBytes = 16;

/** The snapshot's data is the state machine: the applied index and hash chain, then filler. */
export function encodeSnapshot(
  appliedIndex: number,
  appliedHash: number,
  fillerBytes: number,
): Uint8Array {
  const data = new Uint8Array(snapshotHeaderBytes + fillerBytes);
  const view = new DataView(data.buffer);
  view.setFloat64(0, appliedIndex);
  view.setFloat64(8, appliedHash);
  for (let position = snapshotHeaderBytes; position < data.length; position++) {
    data[position] = position & 0xff;
  }
  return data;
}

export function snapshotBase(snapshot: Snapshot): LogBase {
  assert(
    snapshot.data.length >= snapshotHeaderBytes,
    `a snapshot of ${snapshot.data.length} bytes is not ours`,
  );
  const view = new DataView(
    snapshot.data.buffer,
    snapshot.data.byteOffset,
    snapshot.data.byteLength,
  );
  const index = view.getFloat64(0);
  assert(index === snapshot.index, `snapshot data for ${index} in a snapshot at ${snapshot.index}`);
  return { index, term: snapshot.term, hash: view.getFloat64(8) };
}
