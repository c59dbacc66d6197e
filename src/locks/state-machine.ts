/**
 * The lock state machine: what every node computes from the committed log. Deterministic: no
 * clock, no randomness, no I/O, so every node applying the same entries reaches the same state,
 * the same results and the same events.
 *
 * Time is the largest `nowMs` stamp applied so far (a leader with a slow clock cannot move it
 * back). A hold whose lease ran out at that time is gone for acquire, release and refresh even
 * before the leader's `expire` entry for it applies: an expired lease is never granted, renewed
 * or released as if still held (the bug Jepsen found in etcd, etcd#11456).
 *
 * Fencing tokens: a grant's token is the index of the entry that granted it, and an entry grants
 * at most once, so tokens are unique and increase with every grant of every lock.
 *
 * Assertions on the apply path are written `if (broken) assert(false, message)` so that their
 * message is built only when they fail: this code runs for every entry of a million-lock log.
 */
import { assert, assertNever } from '../util/assert.js';
import type {
  AcquireCommand,
  AcquireCommandResult,
  Applied,
  CommandResult,
  ExpireCommand,
  ExpireCommandResult,
  ExtendLeasesCommandResult,
  ForceReleaseCommand,
  GrantRequest,
  HandOff,
  HandOffResult,
  Hold,
  LockCommand,
  LockEventRecord,
  LockEventType,
  LockMode,
  RefreshCommand,
  RefreshCommandResult,
  ReleaseCommand,
  ReleaseCommandResult,
} from './commands.js';
import {
  decideGrant,
  type GrantDecision,
  isExpired,
  type LiveLock,
  leaseEnd,
} from './grant-rules.js';
import { decodeSnapshot, type LockRecordData, SnapshotEncoder } from './snapshot.js';
import { SortedMap } from './sorted-map.js';
import { SortedSet } from './sorted-set.js';

/** A shared lock. Invariant: holders is non-empty, in grant order, at most one per owner. */
class SharedLock {
  readonly limit: number | null;
  readonly holders: Hold[];

  constructor(limit: number | null, holders: Hold[]) {
    this.limit = limit;
    this.holders = holders;
  }
}

/**
 * A held lock as the machine keeps it. An exclusive lock (nearly every lock) is stored as its one
 * hold, with no record around it and no holders array: at a million locks that saves about 100
 * bytes each (a record, an array and the array's spare capacity). A shared lock is a SharedLock.
 */
type LockRecord = Hold | SharedLock;

/** The lock as callers see it: mode, limit and holders (a shared lock's own array, not a copy). */
function viewOf(record: LockRecord): LockRecordData {
  return record instanceof SharedLock
    ? { mode: 'shared', limit: record.limit, holders: record.holders }
    : { mode: 'exclusive', limit: null, holders: [record] };
}

function holdersOf(record: LockRecord): readonly Hold[] {
  return record instanceof SharedLock ? record.holders : [record];
}

/** The record of a lock decoded from a snapshot (which checked that exclusive means one hold). */
function recordOf(mode: LockMode, limit: number | null, holders: Hold[]): LockRecord {
  if (mode === 'shared') return new SharedLock(limit, holders);
  const hold = holders[0];
  if (hold === undefined || holders.length !== 1) assert(false, 'an exclusive lock has one hold');
  return hold;
}

/** One lease in the expiry index, ordered by deadline then token (tokens are unique). */
export interface LeaseDeadline {
  readonly expiresAtMs: number;
  readonly token: number;
  readonly name: string;
}

const compareNames = (left: string, right: string): number =>
  left < right ? -1 : left > right ? 1 : 0;

const compareDeadlines = (left: LeaseDeadline, right: LeaseDeadline): number =>
  left.expiresAtMs - right.expiresAtMs || left.token - right.token;

export class LockStateMachine {
  /**
   * The held locks by name, in name order, so that listing and snapshots never sort (see
   * sorted-map.ts for why not a hash map). Invariant: every lock has at least one holder.
   */
  #locks = new SortedMap<string, LockRecord>(compareNames);
  /** Every hold with a lease, by deadline, so that the leader finds the next expiry at once. */
  #deadlines = new SortedSet<LeaseDeadline>(compareDeadlines);
  /** Invariant: entries 1..#appliedIndex have been applied, each exactly once, in order. */
  #appliedIndex = 0;
  /** The largest time stamp applied so far. */
  #timeMs = 0;
  /** The index of the last entry that granted; each entry grants at most once. */
  #lastGrantIndex = 0;
  /** Events of the entry being applied. */
  #events: LockEventRecord[] = [];

  /** The index of the last entry applied; 0 before any. */
  get appliedIndex(): number {
    return this.#appliedIndex;
  }

  /** The state machine's time: the largest `nowMs` applied so far (epoch milliseconds). */
  get timeMs(): number {
    return this.#timeMs;
  }

  /** The number of held locks (names with at least one holder, expired or not). */
  get size(): number {
    return this.#locks.size;
  }

  /** The number of holds with a lease. */
  get leaseCount(): number {
    return this.#deadlines.size;
  }

  /** The lock as stored (holders whose lease ran out included); undefined when not held. */
  get(name: string): LockRecordData | undefined {
    const record = this.#locks.get(name);
    return record === undefined ? undefined : viewOf(record);
  }

  /** The lock's holders still live at `nowMs`; undefined when there are none. */
  live(name: string, nowMs: number): LiveLock | undefined {
    const lock = this.get(name);
    if (lock === undefined) return undefined;
    const holders = lock.holders.filter((hold) => !isExpired(hold, nowMs));
    return holders.length === 0 ? undefined : { mode: lock.mode, limit: lock.limit, holders };
  }

  /** Held names in order, from `from` (excluded when `exclusive`); '' = from the first. */
  names(from: string, exclusive: boolean): Iterable<string> {
    return this.#locks.keys(from, exclusive);
  }

  /** Leases by deadline, soonest first. */
  deadlines(): Iterable<LeaseDeadline> {
    return this.#deadlines.ascending();
  }

  /** What an acquire of `name` stamped `nowMs` would decide if it applied next. */
  decide(name: string, request: GrantRequest, nowMs: number): GrantDecision {
    const time = Math.max(this.#timeMs, nowMs);
    const lock = this.live(name, time);
    const stale = lock === undefined && this.#locks.has(name) ? 1 : 0;
    return decideGrant(lock, request, this.#locks.size - stale);
  }

  /** Applies the command of the committed entry at `index`, the one after appliedIndex. */
  apply(index: number, command: LockCommand): Applied {
    this.#advanceTo(index);
    this.#timeMs = Math.max(this.#timeMs, command.nowMs);
    this.#events = [];
    const result = this.#dispatch(index, command);
    const events = this.#events;
    this.#events = [];
    return { result, events };
  }

  /** Records that the entry at `index` (a leader's no-op) changed nothing. */
  applyNoop(index: number): void {
    this.#advanceTo(index);
  }

  /**
   * The whole state as bytes: the same state gives the same bytes on every node. Written straight
   * from the records, in name order, with no list of them built first.
   */
  snapshot(): Uint8Array {
    const encoder = new SnapshotEncoder({
      appliedIndex: this.#appliedIndex,
      timeMs: this.#timeMs,
      lastGrantIndex: this.#lastGrantIndex,
      lockCount: this.#locks.size,
    });
    this.#locks.forEach((name, record) => {
      if (record instanceof SharedLock) {
        encoder.lock(name, 'shared', record.limit, record.holders.length);
        for (const hold of record.holders) encoder.hold(hold);
      } else {
        encoder.lock(name, 'exclusive', null, 1);
        encoder.hold(record);
      }
    });
    return encoder.finish();
  }

  /**
   * The state machine `snapshot()` described. Throws MalformedSnapshotError on bad bytes. The
   * decoder hands over each lock's holds, which become the machine's records as they are.
   */
  static restore(bytes: Uint8Array): LockStateMachine {
    const machine = new LockStateMachine();
    const names: string[] = [];
    const records: LockRecord[] = [];
    const deadlines: LeaseDeadline[] = [];
    const header = decodeSnapshot(bytes, {
      lock: (name, mode, limit, holders) => {
        names.push(name);
        records.push(recordOf(mode, limit, holders));
        for (const hold of holders) {
          if (hold.expiresAtMs !== null) {
            deadlines.push({ expiresAtMs: hold.expiresAtMs, token: hold.token, name });
          }
        }
      },
    });
    machine.#appliedIndex = header.appliedIndex;
    machine.#timeMs = header.timeMs;
    machine.#lastGrantIndex = header.lastGrantIndex;
    // decodeSnapshot checked the names' order, every per-lock invariant and token uniqueness; the
    // indexes are built from the same data. (The full assertInvariants() costs seconds at a
    // million locks.)
    machine.#locks = SortedMap.fromSorted(compareNames, names, records);
    machine.#deadlines = SortedSet.fromSorted(compareDeadlines, deadlines.sort(compareDeadlines));
    assert(machine.#locks.size === header.lockCount, "the restored locks are not the snapshot's");
    return machine;
  }

  /** Checks every invariant (tests and restores; linear in the number of holds). */
  assertInvariants(): void {
    this.#locks.assertInvariants();
    let leases = 0;
    const tokens = new Set<number>();
    this.#locks.forEach((name, record) => {
      const lock = viewOf(record);
      assert(lock.holders.length >= 1, `lock ${name} has no holder`);
      assert(lock.mode === 'shared' || lock.holders.length === 1, `exclusive ${name}: holders`);
      for (const hold of lock.holders) {
        assert(!tokens.has(hold.token), `token ${hold.token} held twice`);
        tokens.add(hold.token);
        assert(hold.token <= this.#lastGrantIndex, `token ${hold.token} after the last grant`);
        if (hold.expiresAtMs === null) continue;
        leases++;
        const deadline = { expiresAtMs: hold.expiresAtMs, token: hold.token, name };
        assert(this.#deadlines.has(deadline), `lease ${hold.token} missing from the index`);
      }
    });
    assert(leases === this.#deadlines.size, 'the deadline index has leases no hold has');
    assert(this.#lastGrantIndex <= this.#appliedIndex, 'a grant after the applied index');
  }

  #dispatch(index: number, command: LockCommand): CommandResult {
    switch (command.kind) {
      case 'acquire':
        return this.#acquire(index, command);
      case 'release':
        return this.#release(index, command);
      case 'force-release':
        return this.#forceRelease(index, command);
      case 'refresh':
        return this.#refresh(command);
      case 'expire':
        return this.#expire(index, command);
      case 'extend-leases':
        return this.#extendLeases();
      default:
        return assertNever(command, 'unknown lock command');
    }
  }

  #advanceTo(index: number): void {
    if (index !== this.#appliedIndex + 1) {
      assert(
        false,
        `entry ${index} applied after entry ${this.#appliedIndex}: entries apply once, in order`,
      );
    }
    this.#appliedIndex = index;
  }

  #acquire(index: number, command: AcquireCommand): AcquireCommandResult {
    const lock = this.#dropExpired(command.name);
    const decision = decideGrant(lock, command, this.#locks.size);
    switch (decision.kind) {
      case 'grant':
        return {
          outcome: 'acquired',
          ...this.#grant(index, command.name, command),
          renewed: false,
        };
      case 'renew':
        return {
          outcome: 'acquired',
          hold: this.#renew(command.name, decision.hold, command.ttlMs),
          mode: command.mode,
          renewed: true,
        };
      case 'conflict':
        return { outcome: 'conflict', holders: [...(lock?.holders ?? [])] };
      case 'limit-reached':
        return { outcome: 'limit-reached', limit: decision.limit };
      default:
        return assertNever(decision, 'unknown grant decision');
    }
  }

  #release(index: number, command: ReleaseCommand): ReleaseCommandResult {
    const lock = this.#dropExpired(command.name);
    if (lock === undefined) return { outcome: 'not-locked' };
    const target = lock.holders.find(
      (hold) =>
        hold.owner === command.owner &&
        (command.token === null || (hold.token === command.token && !hold.renewed)),
    );
    if (target === undefined) return { outcome: 'not-owner', holders: [...lock.holders] };
    this.#removeHold(command.name, target, 'release');
    const handOff = this.#handOff(index, command.name, command.handOff);
    return { outcome: 'released', token: target.token, handOff };
  }

  #forceRelease(index: number, command: ForceReleaseCommand): ReleaseCommandResult {
    const lock = this.#dropExpired(command.name);
    if (lock === undefined) return { outcome: 'not-locked' };
    let newestToken = 0;
    for (const hold of [...lock.holders]) {
      newestToken = Math.max(newestToken, hold.token);
      this.#removeHold(command.name, hold, 'force-release');
    }
    assert(!this.#locks.has(command.name), 'force-release left a holder');
    const handOff = this.#handOff(index, command.name, command.handOff);
    return { outcome: 'released', token: newestToken, handOff };
  }

  /** Refresh does not drop expired holds: it carries no hand-off, and `expire` will come. */
  #refresh(command: RefreshCommand): RefreshCommandResult {
    const lock = this.live(command.name, this.#timeMs);
    if (lock === undefined) return { outcome: 'not-locked' };
    const own = lock.holders.find((hold) => hold.owner === command.owner);
    if (own === undefined) return { outcome: 'not-owner', holders: lock.holders };
    const hold = this.#renew(command.name, own, command.ttlMs ?? own.ttlMs);
    return { outcome: 'refreshed', hold, mode: lock.mode };
  }

  #expire(index: number, command: ExpireCommand): ExpireCommandResult {
    const record = this.#locks.get(command.name);
    const hold =
      record === undefined
        ? undefined
        : holdersOf(record).find((held) => held.token === command.token);
    if (hold === undefined || !isExpired(hold, this.#timeMs)) return { outcome: 'not-expired' };
    this.#removeHold(command.name, hold, 'expire');
    return { outcome: 'expired', handOff: this.#handOff(index, command.name, command.handOff) };
  }

  /**
   * Every lease still live gets at least its full TTL from now, so that a leader change only
   * lengthens leases. Leases already run out are left for `expire`. No events: a leader change
   * would otherwise flood every subscriber with one per lease.
   */
  #extendLeases(): ExtendLeasesCommandResult {
    const now = this.#timeMs;
    const deadlines: LeaseDeadline[] = [];
    let extended = 0;
    // Only the holds with a lease: a million locks held without one cost nothing here.
    for (const deadline of this.#deadlines.ascending()) {
      if (deadline.expiresAtMs <= now) {
        deadlines.push(deadline);
        continue;
      }
      extended++;
      const hold = this.#holdWithToken(deadline.name, deadline.token);
      if (hold.ttlMs === null) assert(false, `lease ${hold.token} without a ttl`);
      const expiresAtMs = Math.max(deadline.expiresAtMs, now + hold.ttlMs);
      if (expiresAtMs === deadline.expiresAtMs) {
        deadlines.push(deadline);
        continue;
      }
      this.#putHold(deadline.name, hold, { ...hold, expiresAtMs });
      deadlines.push({ expiresAtMs, token: hold.token, name: deadline.name });
    }
    this.#deadlines = SortedSet.fromSorted(compareDeadlines, deadlines.sort(compareDeadlines));
    return { outcome: 'extended', leases: extended };
  }

  /** Grants the hand-off a command carried, if it fits now; at most one grant per entry. */
  #handOff(index: number, name: string, handOff: HandOff | null): HandOffResult | null {
    if (handOff === null) return null;
    const lock = this.#dropExpired(name);
    const decision = decideGrant(lock, handOff, this.#locks.size);
    if (decision.kind === 'grant') {
      return { waiterId: handOff.waiterId, ...this.#grant(index, name, handOff), renewed: false };
    }
    if (decision.kind === 'renew') {
      const hold = this.#renew(name, decision.hold, handOff.ttlMs);
      return { waiterId: handOff.waiterId, hold, mode: handOff.mode, renewed: true };
    }
    return null;
  }

  #grant(index: number, name: string, request: GrantRequest): { hold: Hold; mode: LockMode } {
    if (index <= this.#lastGrantIndex)
      assert(false, `entry ${index} grants twice: tokens must be unique`);
    this.#lastGrantIndex = index;
    const now = this.#timeMs;
    const hold: Hold = {
      owner: request.owner,
      token: index,
      acquiredAtMs: now,
      ttlMs: request.ttlMs,
      expiresAtMs: leaseEnd(now, request.ttlMs),
      renewed: false,
    };
    assert(request.mode === 'exclusive' || request.owner !== null, 'shared grant without owner');
    const record = this.#locks.get(name);
    if (record === undefined) {
      const shared = request.mode === 'shared';
      this.#locks.set(name, shared ? new SharedLock(request.limit, [hold]) : hold);
    } else if (record instanceof SharedLock && request.mode === 'shared') {
      record.holders.push(hold);
    } else {
      assert(false, `grant of ${request.mode} on the held ${viewOf(record).mode} lock ${name}`);
    }
    this.#addDeadline(name, hold);
    this.#emit('grant', name, hold);
    return { hold, mode: request.mode };
  }

  /** The same hold (same token), with a lease of `ttlMs` from now. */
  #renew(name: string, hold: Hold, ttlMs: number | null): Hold {
    const renewed: Hold = {
      ...hold,
      ttlMs,
      expiresAtMs: leaseEnd(this.#timeMs, ttlMs),
      renewed: true,
    };
    this.#deleteDeadline(name, hold);
    this.#putHold(name, hold, renewed);
    this.#addDeadline(name, renewed);
    this.#emit('refresh', name, renewed);
    return renewed;
  }

  /** Removes the holds whose lease ran out (each an `expire` event); the lock if any is left. */
  #dropExpired(name: string): LockRecordData | undefined {
    const record = this.#locks.get(name);
    if (record === undefined) return undefined;
    for (const hold of holdersOf(record).filter((held) => isExpired(held, this.#timeMs))) {
      this.#removeHold(name, hold, 'expire');
    }
    return this.get(name);
  }

  #removeHold(name: string, hold: Hold, event: LockEventType): void {
    const record = this.#recordAt(name);
    let holdersLeft = 0;
    if (record instanceof SharedLock) {
      const position = record.holders.indexOf(hold);
      if (position < 0) assert(false, `removal of a hold ${hold.token} that ${name} does not have`);
      record.holders.splice(position, 1);
      holdersLeft = record.holders.length;
    } else if (record !== hold) {
      assert(false, `removal of a hold ${hold.token} that ${name} does not have`);
    }
    this.#deleteDeadline(name, hold);
    if (holdersLeft === 0) {
      this.#locks.delete(name);
    }
    this.#emit(event, name, hold);
  }

  /** Puts `replacement` where `hold` was (same token); the deadline index is the caller's. */
  #putHold(name: string, hold: Hold, replacement: Hold): void {
    const record = this.#recordAt(name);
    if (hold.token !== replacement.token) assert(false, `hold ${hold.token} replaced by another`);
    if (record instanceof SharedLock) {
      const position = record.holders.indexOf(hold);
      if (position < 0) assert(false, `hold ${hold.token} is not one of ${name}'s`);
      record.holders[position] = replacement;
    } else if (record === hold) {
      this.#locks.set(name, replacement);
    } else {
      assert(false, `hold ${hold.token} is not ${name}'s`);
    }
  }

  #holdWithToken(name: string, token: number): Hold {
    const hold = holdersOf(this.#recordAt(name)).find((held) => held.token === token);
    if (hold === undefined) assert(false, `lock ${name} has no hold ${token}`);
    return hold;
  }

  #addDeadline(name: string, hold: Hold): void {
    if (hold.expiresAtMs === null) return;
    const added = this.#deadlines.add({ expiresAtMs: hold.expiresAtMs, token: hold.token, name });
    if (!added) assert(false, `lease ${hold.token} indexed twice`);
  }

  #deleteDeadline(name: string, hold: Hold): void {
    if (hold.expiresAtMs === null) return;
    const deleted = this.#deadlines.delete({
      expiresAtMs: hold.expiresAtMs,
      token: hold.token,
      name,
    });
    if (!deleted) assert(false, `lease ${hold.token} was not indexed`);
  }

  #emit(type: LockEventType, name: string, hold: Hold): void {
    this.#events.push({
      type,
      name,
      owner: hold.owner,
      token: hold.token,
      index: this.#appliedIndex,
      n: this.#events.length,
      atMs: this.#timeMs,
    });
  }

  #recordAt(name: string): LockRecord {
    const record = this.#locks.get(name);
    if (record === undefined) assert(false, `lock ${name} is not held`);
    return record;
  }
}
