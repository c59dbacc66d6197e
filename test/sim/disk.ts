/**
 * One node's simulated storage. A Ready's snapshot, hard state and entries are written as one batch
 * (one transaction, as LmdbStorage writes them) that becomes durable only when its fsync completes,
 * a seeded delay later; a slow disk takes longer. A crash while the batch is in flight loses it, or
 * not (the write may have reached the platter first): both are legal outcomes the node must survive.
 * At most one batch is in flight, as the host waits for each fsync before it takes the next Ready.
 *
 * A batch that only moves the commit index is written without an fsync, as WalStorage writes it
 * (see StorageBatch.hardState): acknowledged at once, durable only once a later batch syncs, and
 * lost if the power goes first.
 */
import {
  type Entry,
  emptyHardState,
  type HardState,
  type PersistedState,
  type Snapshot,
} from '../../src/raft/types.js';
import { assert } from '../../src/util/assert.js';
import type { VirtualClock } from './clock.js';
import type { SimRandom } from './random.js';

export interface DiskLatency {
  readonly minUs: number;
  readonly maxUs: number;
}

export interface DiskBatch {
  /** A snapshot from the leader: it replaces the whole stored log (Ready.snapshot). */
  readonly snapshot?: Snapshot | undefined;
  /** The host's own snapshot: stored, and the entries it covers dropped (after RawNode.compact). */
  readonly compaction?: Snapshot | undefined;
  readonly hardState: HardState | undefined;
  readonly entries: readonly Entry[];
}

/** Disk-level defects, for showing that the simulator catches what they break. */
export interface DiskBugs {
  /** The disk acknowledges an fsync but keeps the batch in a volatile cache until the next one. */
  readonly fsyncLies: boolean;
  /** Loading forgets the vote of the current term, so a restarted node may vote twice in it. */
  readonly forgetVoteOnLoad: boolean;
}

export const noDiskBugs: DiskBugs = { fsyncLies: false, forgetVoteOnLoad: false };

export interface DiskStats {
  writes: number;
  /** Batches in flight at a crash that were lost, and those that survived it. */
  lostAtCrash: number;
  survivedCrash: number;
}

interface Stored {
  hardState: HardState;
  snapshot: Snapshot | undefined;
  /** The entries after the snapshot (from index 1 without one), contiguous. */
  entries: Entry[];
}

function emptyStored(): Stored {
  return { hardState: emptyHardState, snapshot: undefined, entries: [] };
}

export class SimDisk {
  readonly stats: DiskStats = { writes: 0, lostAtCrash: 0, survivedCrash: 0 };
  readonly #clock: VirtualClock;
  readonly #random: SimRandom;
  readonly #bugs: DiskBugs;
  readonly #crashSurvivalProbability: number;
  /** What the disk has acknowledged as durable. */
  readonly #stored: Stored = emptyStored();
  /** With `fsyncLies`: what is really durable, one acknowledged batch behind `#stored`. */
  readonly #real: Stored = emptyStored();
  #unflushed: DiskBatch | undefined;
  #inFlight: DiskBatch | undefined;
  /** A commit-only hard state written without an fsync: durable with the next synced batch. */
  #unsyncedHardState: HardState | undefined;
  /** Bumped by a crash, so that the completion of a write from before it is ignored. */
  #generation = 0;
  #latency: DiskLatency;
  #slow: { readonly latency: DiskLatency; readonly token: number } | undefined;
  #nextToken = 1;

  constructor(options: {
    readonly clock: VirtualClock;
    readonly random: SimRandom;
    readonly latency: DiskLatency;
    readonly crashSurvivalProbability: number;
    readonly bugs: DiskBugs;
  }) {
    this.#clock = options.clock;
    this.#random = options.random;
    this.#latency = options.latency;
    this.#crashSurvivalProbability = options.crashSurvivalProbability;
    this.#bugs = options.bugs;
  }

  /** The durable hard state, as the disk has acknowledged it. */
  get hardState(): HardState {
    return this.#stored.hardState;
  }

  /** The hard state last written, durable or not (a commit index not synced yet). */
  get writtenHardState(): HardState {
    return this.#unsyncedHardState ?? this.#stored.hardState;
  }

  /** The index of the last durable entry (or of the durable snapshot, if no entry follows it). */
  get lastIndex(): number {
    return (this.#stored.snapshot?.index ?? 0) + this.#stored.entries.length;
  }

  get snapshotIndex(): number {
    return this.#stored.snapshot?.index ?? 0;
  }

  get writing(): boolean {
    return this.#inFlight !== undefined;
  }

  /** The commit index of the batch being written, if it carries a hard state. */
  get writingCommit(): number | undefined {
    return this.#inFlight?.hardState?.commit;
  }

  /** Starts writing `batch`; `onSynced` runs once it is durable, unless a crash comes first. */
  write(batch: DiskBatch, onSynced: () => void): void {
    assert(this.#inFlight === undefined, 'a second write before the first one synced');
    this.stats.writes++;
    this.#inFlight = batch;
    const generation = this.#generation;
    if (this.#movesOnlyCommit(batch)) {
      // No fsync to wait for: the page cache takes it at once.
      this.#clock.schedule(0, () => {
        if (generation !== this.#generation) return;
        this.#inFlight = undefined;
        this.#unsyncedHardState = batch.hardState;
        onSynced();
      });
      return;
    }
    const latency = this.#slow?.latency ?? this.#latency;
    this.#clock.schedule(this.#random.between(latency.minUs, latency.maxUs), () => {
      if (generation !== this.#generation) return;
      this.#inFlight = undefined;
      this.#sync(batch);
      onSynced();
    });
  }

  /** Makes every fsync take `latency` until clearSlow(token); a later call overrides. */
  setSlow(latency: DiskLatency): number {
    const token = this.#nextToken++;
    this.#slow = { latency, token };
    return token;
  }

  clearSlow(token: number): void {
    if (this.#slow?.token === token) this.#slow = undefined;
  }

  /** Back to normal speed for good: the quiet phase. */
  calm(latency: DiskLatency): void {
    this.#latency = latency;
    this.#slow = undefined;
  }

  /** The power goes: the batch in flight may or may not have made it; a lying disk loses more. */
  crash(): void {
    this.#generation++;
    const inFlight = this.#inFlight;
    this.#inFlight = undefined;
    this.#unsyncedHardState = undefined;
    if (this.#bugs.fsyncLies) {
      // The volatile cache goes, and with it whatever was in flight.
      this.#unflushed = undefined;
      copyInto(this.#stored, this.#real);
      return;
    }
    if (inFlight === undefined) return;
    if (this.#random.chance(this.#crashSurvivalProbability)) {
      this.stats.survivedCrash++;
      this.#sync(inFlight);
    } else {
      this.stats.lostAtCrash++;
    }
  }

  /** What a node restarting on this disk loads: a copy, as a real load would be. */
  load(): PersistedState {
    assert(this.#inFlight === undefined, 'loading while a write is in flight');
    const { snapshot, entries } = this.#stored;
    const hardState = this.#bugs.forgetVoteOnLoad
      ? { ...this.#stored.hardState, vote: 0 }
      : this.#stored.hardState;
    return { hardState, entries: [...entries], ...(snapshot === undefined ? {} : { snapshot }) };
  }

  /** As movesOnlyCommit in src/storage/storage.ts, against the hard state last written. */
  #movesOnlyCommit(batch: DiskBatch): boolean {
    const written = this.writtenHardState;
    return (
      batch.snapshot === undefined &&
      batch.compaction === undefined &&
      batch.entries.length === 0 &&
      batch.hardState !== undefined &&
      batch.hardState.term === written.term &&
      batch.hardState.vote === written.vote
    );
  }

  #sync(batch: DiskBatch): void {
    // A synced write makes every earlier write to the file durable with it.
    const unsynced = this.#unsyncedHardState;
    this.#unsyncedHardState = undefined;
    if (unsynced !== undefined && batch.hardState === undefined) {
      applyBatch(this.#stored, { hardState: unsynced, entries: [] });
    }
    applyBatch(this.#stored, batch);
    if (!this.#bugs.fsyncLies) return;
    if (this.#unflushed !== undefined) applyBatch(this.#real, this.#unflushed);
    this.#unflushed = batch;
  }
}

/** A batch as the Ready contract describes it: entries from the first one's index on are replaced. */
function applyBatch(stored: Stored, batch: DiskBatch): void {
  if (batch.snapshot !== undefined) {
    stored.snapshot = batch.snapshot;
    stored.entries = [];
  }
  if (batch.compaction !== undefined) compact(stored, batch.compaction);
  if (batch.hardState !== undefined) stored.hardState = batch.hardState;
  const first = batch.entries[0];
  const snapshotIndex = stored.snapshot?.index ?? 0;
  if (first !== undefined) {
    const position = first.index - snapshotIndex - 1;
    assert(
      position >= 0 && position <= stored.entries.length,
      `entry ${first.index} cannot follow the stored log (${snapshotIndex}, ${snapshotIndex + stored.entries.length}]`,
    );
    stored.entries.length = position;
    for (const entry of batch.entries) stored.entries.push(entry);
  }
  const lastIndex = snapshotIndex + stored.entries.length;
  assert(
    stored.hardState.commit <= lastIndex,
    `stored commit ${stored.hardState.commit} beyond the stored log (last index ${lastIndex})`,
  );
}

/** Keeps the snapshot and the entries after it; an older snapshot than the stored one is moot. */
function compact(stored: Stored, snapshot: Snapshot): void {
  const snapshotIndex = stored.snapshot?.index ?? 0;
  if (snapshot.index <= snapshotIndex) return;
  const covered = stored.entries[snapshot.index - snapshotIndex - 1];
  assert(
    covered !== undefined && covered.term === snapshot.term,
    `compaction at ${snapshot.index} of term ${snapshot.term} does not match the stored log`,
  );
  stored.entries = stored.entries.slice(snapshot.index - snapshotIndex);
  stored.snapshot = snapshot;
}

function copyInto(target: Stored, source: Stored): void {
  target.hardState = source.hardState;
  target.snapshot = source.snapshot;
  target.entries = [...source.entries];
}
