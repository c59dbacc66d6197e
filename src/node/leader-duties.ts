/**
 * What only the leader does, started when it gains leadership and stopped when it loses it:
 * - it proposes `extend-leases` first thing in its term, and is "ready" (serves reads, expires
 *   leases) only once that applied, so that a leader change can only lengthen a lease;
 * - it proposes `expire` for overdue leases (ExpiryScheduler);
 * - it keeps the FIFO queues of waiting requests (WaitingRoom) and hands a freed lock to the head
 *   of its queue in the same entry that freed it.
 * Losing leadership answers every waiter with 503 LOCKD_ERR_NOT_LEADER.
 */
import type { Grant, Limits } from '../api/lock-service.js';
import { LockdError } from '../errors.js';
import type { CommandResult, HandOff, HandOffResult } from '../locks/commands.js';
import type { LeaseDeadline, LockStateMachine } from '../locks/state-machine.js';
import type { RawNode } from '../raft/raw-node.js';
import { assert } from '../util/assert.js';
import { ExpiryScheduler } from './expiry.js';
import type { NodeLogger } from './logger.js';
import type { Proposer } from './proposer.js';
import { asAcquireResult, asExpireResult, asReleaseResult } from './results.js';
import type { Scheduler } from './scheduler.js';
import { grantView, namedHolderViews } from './views.js';
import { WaitingRoom } from './waiters.js';

export interface LeaderDutiesOptions {
  readonly raft: RawNode;
  readonly proposer: Proposer;
  readonly scheduler: Scheduler;
  readonly logger: NodeLogger;
  readonly limits: Limits;
  /** The lock state machine (replaced wholesale when a snapshot is restored). */
  readonly locks: () => LockStateMachine;
  /** The leader's clock, stamped on commands. */
  readonly stamp: () => number;
  /** The time apply() would see for a command stamped now. */
  readonly now: () => number;
  /** False once the node stops or failed: nothing more is proposed. */
  readonly serving: () => boolean;
}

/** This node leads `term`; `ready` once its lease extension applied (expiry and reads may start). */
interface Leadership {
  readonly term: number;
  extendProposed: boolean;
  ready: boolean;
}

/** A grant the leader made to a client that is no longer there, to be released by its token. */
export interface UnwantedGrant {
  readonly name: string;
  readonly owner: string | null;
  readonly token: number;
}

export class LeaderDuties {
  readonly #options: LeaderDutiesOptions;
  readonly waiting: WaitingRoom;
  readonly expiry: ExpiryScheduler;
  #leadership: Leadership | undefined;
  /** Queues whose head may fit now: the leader tries to grant them after the current batch. */
  readonly #namesToPump = new Set<string>();
  /** Queues whose grant proposal was refused (overloaded): tried again on the next tick. */
  readonly #namesToPumpOnTick = new Set<string>();
  #pumpScheduled = false;
  /** Grants made for a renewal (the owner held the lock already): never released as unwanted. */
  readonly renewedGrants = new WeakSet<Grant>();

  constructor(options: LeaderDutiesOptions) {
    this.#options = options;
    this.waiting = new WaitingRoom({
      scheduler: options.scheduler,
      clock: options.stamp,
      maxWaitersPerLock: options.limits.maxWaitersPerLock,
      conflictNow: (name) => {
        const holders = options.locks().live(name, options.now())?.holders ?? [];
        return { outcome: 'conflict', holders: namedHolderViews(holders) };
      },
      onQueueChanged: (name) => this.queueChanged(name),
    });
    this.expiry = new ExpiryScheduler({
      scheduler: options.scheduler,
      now: options.now,
      deadlines: () => options.locks().deadlines(),
      proposeExpire: (deadline) => this.#proposeExpire(deadline),
    });
  }

  /** This node leads the term the core is in, as of the last ready batch. */
  isLeader(): boolean {
    const leadership = this.#leadership;
    const status = this.#options.raft.status();
    return leadership !== undefined && status.role === 'leader' && status.term === leadership.term;
  }

  /** This node leads and its lease extension applied: it may serve reads and expire leases. */
  isReady(): boolean {
    return this.isLeader() && this.#leadership?.ready === true;
  }

  /** Whether the queue-pumping step is due (for `idle()`). */
  get busy(): boolean {
    return this.#pumpScheduled;
  }

  /** Compares the core's role with ours: a new term as leader starts over, with a lease extension. */
  sync(): void {
    const status = this.#options.raft.status();
    const leading = status.role === 'leader';
    const leadership = this.#leadership;
    if (leadership !== undefined && (!leading || leadership.term !== status.term)) {
      this.#leadership = undefined;
      this.#stopDuties(
        new LockdError(
          'LOCKD_ERR_NOT_LEADER',
          'Leadership moved while this request waited for the lock; retry it (with the same owner, a grant that raced this answer is returned again)',
        ),
      );
      this.#options.logger.info({ term: leadership.term }, 'leadership lost: waiters answered');
    }
    if (leading && this.#leadership === undefined && this.#options.serving()) {
      this.#leadership = { term: status.term, extendProposed: false, ready: false };
      this.#proposeExtendLeases();
    }
  }

  /** The node stops: no more duties, every waiter answered with `error`. */
  stop(error: LockdError): void {
    this.#leadership = undefined;
    this.#stopDuties(error);
  }

  /** A tick: retries what was refused for being overloaded. */
  tick(): void {
    if (!this.isLeader()) return;
    this.#proposeExtendLeases();
    for (const name of this.#namesToPumpOnTick) this.queueChanged(name);
    this.#namesToPumpOnTick.clear();
  }

  /** `name`'s queue may have a head that fits now: tried after the current batch. */
  queueChanged(name: string): void {
    if (this.waiting.count(name) === 0) return;
    this.#namesToPump.add(name);
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pumpQueues();
    });
  }

  /** A release carrying `handOff` applied: tells the waiting room what became of the hand-off. */
  releaseApplied(name: string, handOff: HandOff | null, result: CommandResult): void {
    const released = asReleaseResult(result);
    this.handOffOutcome(name, handOff, released.outcome === 'released' ? released.handOff : null);
  }

  /** Tells the waiting room what became of a hand-off; a grant nobody took is released at once. */
  handOffOutcome(name: string, handOff: HandOff | null, granted: HandOffResult | null): void {
    if (handOff === null) {
      assert(granted === null, 'a grant to a hand-off that was not carried');
      return;
    }
    if (granted === null) {
      this.waiting.grantOutcome(handOff.waiterId, null);
      return;
    }
    assert(granted.waiterId === handOff.waiterId, 'the hand-off granted another waiter');
    const grant = grantView(name, granted.hold, granted.mode);
    if (granted.renewed) this.renewedGrants.add(grant);
    const outcome = this.waiting.grantOutcome(handOff.waiterId, grant);
    if (outcome === 'refused' && !granted.renewed) {
      this.releaseUnwanted({ name, owner: granted.hold.owner, token: granted.hold.token });
    }
  }

  /**
   * Releases a hold granted to a client that is no longer there (it disconnected, or was answered
   * otherwise when leadership moved). By token, so that only that very grant is released.
   */
  releaseUnwanted(grant: UnwantedGrant): void {
    const { name, owner, token } = grant;
    if (!this.isLeader()) {
      this.#options.logger.warn(
        { name, token, owner },
        'a grant nobody will use stays held: this node no longer leads (its lease, if any, ends it)',
      );
      return;
    }
    const handOff = this.waiting.takeHead(name);
    const proposed = this.#options.proposer.tryPropose(
      { kind: 'release', nowMs: this.#options.stamp(), name, owner, token, handOff },
      {
        applied: (result) => this.releaseApplied(name, handOff, result),
        dropped: () => this.handOffOutcome(name, handOff, null),
      },
    );
    if (proposed instanceof LockdError) {
      this.handOffOutcome(name, handOff, null);
      this.#options.logger.warn(
        { name, token, err: proposed },
        'could not release a grant nobody will use (its lease, if any, ends it)',
      );
    }
  }

  #stopDuties(error: LockdError): void {
    this.expiry.stop();
    this.#namesToPump.clear();
    this.#namesToPumpOnTick.clear();
    this.waiting.rejectAll(error);
  }

  #pumpQueues(): void {
    const names = [...this.#namesToPump];
    this.#namesToPump.clear();
    if (!this.isLeader() || !this.#options.serving()) return;
    for (const name of names) this.#pump(name);
  }

  /** Proposes an acquire for the head of `name`'s queue if it would be granted now. */
  #pump(name: string): void {
    const head = this.waiting.peekHead(name);
    if (head === undefined) return;
    const decision = this.#options.locks().decide(name, head.request, this.#options.stamp());
    if (decision.kind !== 'grant' && decision.kind !== 'renew') return;
    const handOff = this.waiting.takeHead(name);
    assert(handOff !== null && handOff.waiterId === head.waiterId, 'the head changed under pump');
    const proposed = this.#options.proposer.tryPropose(
      { kind: 'acquire', nowMs: this.#options.stamp(), name, ...handOff },
      {
        applied: (result) => {
          const acquired = asAcquireResult(result);
          if (acquired.outcome !== 'acquired') {
            this.handOffOutcome(name, handOff, null);
            return;
          }
          const { hold, mode, renewed } = acquired;
          this.handOffOutcome(name, handOff, { waiterId: handOff.waiterId, hold, mode, renewed });
        },
        dropped: () => this.handOffOutcome(name, handOff, null),
      },
    );
    if (proposed instanceof LockdError) {
      this.handOffOutcome(name, handOff, null);
      this.#namesToPumpOnTick.add(name);
    }
  }

  #proposeExpire(deadline: LeaseDeadline): boolean {
    const { name, token } = deadline;
    const handOff = this.waiting.takeHead(name);
    const proposed = this.#options.proposer.tryPropose(
      { kind: 'expire', nowMs: this.#options.stamp(), name, token, handOff },
      {
        applied: (result) => {
          const expired = asExpireResult(result);
          this.expiry.settled(token);
          this.handOffOutcome(
            name,
            handOff,
            expired.outcome === 'expired' ? expired.handOff : null,
          );
        },
        dropped: () => {
          this.expiry.settled(token);
          this.handOffOutcome(name, handOff, null);
        },
      },
    );
    if (proposed instanceof LockdError) {
      this.handOffOutcome(name, handOff, null);
      return false;
    }
    return true;
  }

  /** A new leader's first command; until it applies, the leader neither expires nor reads. */
  #proposeExtendLeases(): void {
    const leadership = this.#leadership;
    if (leadership === undefined || leadership.extendProposed) return;
    const proposed = this.#options.proposer.tryPropose(
      { kind: 'extend-leases', nowMs: this.#options.stamp() },
      {
        applied: () => {
          if (this.#leadership !== leadership) return;
          leadership.ready = true;
          this.expiry.start();
          this.#options.logger.info(
            { term: leadership.term, leases: this.#options.locks().leaseCount },
            'leader ready: leases extended, expiry started',
          );
        },
        dropped: () => {
          if (this.#leadership === leadership) leadership.extendProposed = false;
        },
      },
    );
    // Refused (overloaded): the next tick tries again.
    leadership.extendProposed = !(proposed instanceof LockdError);
  }
}
