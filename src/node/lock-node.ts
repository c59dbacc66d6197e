import type {
  AcquireRequest,
  AcquireResult,
  EventFilter,
  EventSubscription,
  Limits,
  ListRequest,
  ListResult,
  LockEvent,
  LockService,
  LockSummary,
  LockView,
  RefreshRequest,
  RefreshResult,
  ReleaseRequest,
  ReleaseResult,
} from '../api/lock-service.js';
import { LockdError } from '../errors.js';
import { decodeCommand, encodeCommand } from '../locks/codec.js';
import type {
  CommandResult,
  GrantRequest,
  HandOff,
  HandOffResult,
  Hold,
  LockCommand,
} from '../locks/commands.js';
import { type LeaseDeadline, LockStateMachine } from '../locks/state-machine.js';
import { createRandom } from '../raft/random.js';
import { RawNode } from '../raft/raw-node.js';
import {
  type Entry,
  EntryType,
  type NodeId,
  type RaftStatus,
  type Ready,
  type Snapshot,
} from '../raft/types.js';
import type { RaftStorage } from '../storage/storage.js';
import { assert } from '../util/assert.js';
import { EventHistory, eventHistoryDefaults } from './events.js';
import { ExpiryScheduler } from './expiry.js';
import {
  assertValidLimits,
  checkAcquireRequest,
  checkName,
  checkRefreshRequest,
  checkReleaseRequest,
  limitReached,
  listLimitMax,
} from './limits.js';
import { PendingProposals } from './pending-proposals.js';
import { asAcquireResult, asExpireResult, asRefreshResult, asReleaseResult } from './results.js';
import { type Scheduler, systemScheduler, type Timer } from './scheduler.js';
import { eventView, grantView, holderView, namedHolderViews } from './views.js';
import { clientGoneError, WaitingRoom } from './waiters.js';

export interface NodeLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

export interface LockNodeOptions {
  readonly id: NodeId;
  /** Every voter of the cluster, this node included. */
  readonly members: readonly NodeId[];
  readonly storage: RaftStorage;
  /** Wall-clock length of one Raft tick. */
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  /** Seeds the Raft core's randomized election timeouts. */
  readonly seed: number;
  readonly logger: NodeLogger;
  /** Called once if the node hits an error it cannot continue after (e.g. a failed fsync). */
  readonly onFatal: (error: unknown) => void;
  /** The wall clock, epoch milliseconds (Date.now): the leader stamps every command with it. */
  readonly clock: () => number;
  readonly limits: Limits;
  /** Timers (ticks, lease expiry, wait deadlines); tests pass a fake one. Default: setTimeout. */
  readonly scheduler?: Scheduler;
  /** How many recent events are kept for Last-Event-ID replay (default 10 000). */
  readonly eventHistoryCapacity?: number;
}

/** This node leads `term`; `ready` once its lease extension applied (expiry and reads may start). */
interface Leadership {
  readonly term: number;
  extendProposed: boolean;
  ready: boolean;
}

/** A page of `list` scans at most this many names beyond its limit (names whose holds all ran out). */
const listScanSlack = 1_000;

/**
 * The host loop: owns the Raft core, the storage, the lock state machine and the timers, and turns
 * client calls into proposals whose results come back when their entries are applied. Every ready
 * batch is persisted with one write (group commit) before anything is applied.
 *
 * As leader it also: stamps every command with its clock; proposes `extend-leases` first thing in
 * its term and serves reads and expiry only once that applied; proposes `expire` for overdue
 * leases; keeps the FIFO queues of waiting requests and hands a freed lock to the head of its
 * queue in the same entry that freed it.
 */
export class LockNode implements LockService {
  readonly #raft: RawNode;
  readonly #storage: RaftStorage;
  #locks = new LockStateMachine();
  readonly #pending = new PendingProposals();
  readonly #options: LockNodeOptions;
  readonly #scheduler: Scheduler;
  readonly #history: EventHistory;
  readonly #waiting: WaitingRoom;
  readonly #expiry: ExpiryScheduler;
  readonly limits: Limits;
  #leadership: Leadership | undefined;
  /** Queues whose head may fit now: the leader tries to grant them after the current batch. */
  readonly #namesToPump = new Set<string>();
  /** Queues whose grant proposal was refused (overloaded): tried again on the next tick. */
  readonly #namesToPumpOnTick = new Set<string>();
  #pumpScheduled = false;
  #ticker: Timer | undefined;
  #drainScheduled = false;
  #draining: Promise<void> | undefined;
  #failed = false;
  #stopping = false;

  private constructor(options: LockNodeOptions, raft: RawNode) {
    this.#options = options;
    this.#storage = options.storage;
    this.#raft = raft;
    this.limits = options.limits;
    this.#scheduler = options.scheduler ?? systemScheduler;
    this.#history = new EventHistory({
      capacity: options.eventHistoryCapacity ?? eventHistoryDefaults.capacity,
      maxSubscribers: eventHistoryDefaults.maxSubscribers,
      onSubscriberError: (error) =>
        options.logger.error({ err: error }, 'an event subscriber threw: it was dropped'),
    });
    this.#waiting = new WaitingRoom({
      scheduler: this.#scheduler,
      clock: () => this.#stamp(),
      maxWaitersPerLock: options.limits.maxWaitersPerLock,
      conflictNow: (name) => this.#conflictNow(name),
      onQueueChanged: (name) => this.#queueChanged(name),
    });
    this.#expiry = new ExpiryScheduler({
      scheduler: this.#scheduler,
      now: () => this.#now(),
      deadlines: () => this.#locks.deadlines(),
      proposeExpire: (deadline) => this.#proposeExpire(deadline),
    });
  }

  /** Loads the persisted state, replays the log into the state machine, then starts ticking. */
  static async start(options: LockNodeOptions): Promise<LockNode> {
    assert(
      options.members.length === 1 && options.members[0] === options.id,
      'this build runs single-node clusters only: peers are not networked yet',
    );
    assertValidLimits(options.limits);
    const persisted = await options.storage.load();
    const raft = new RawNode({
      id: options.id,
      peers: options.members,
      electionTicks: options.electionTicks,
      heartbeatTicks: options.heartbeatTicks,
      random: createRandom(options.seed),
      persisted,
    });
    const node = new LockNode(options, raft);
    if (persisted.snapshot !== undefined) node.#restore(persisted.snapshot);
    await node.#drain();
    assert(
      node.#locks.appliedIndex >= persisted.hardState.commit,
      'the replay must reach the persisted commit index before the node serves',
    );
    node.#scheduleTick();
    options.logger.info({ ...raft.status(), locks: node.#locks.size }, 'raft node started');
    return node;
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    this.#assertServing();
    checkAcquireRequest(request, this.limits);
    if (request.signal.aborted) throw clientGoneError();
    this.#requireLeader();
    const deadlineMs = this.#stamp() + request.waitMs;
    const grantRequest = this.#grantRequest(request);
    // No barging: while others queue, a new request queues behind them (unless it is the holder).
    if (this.#waiting.count(request.name) > 0 && !this.#holdsLive(request.name, request.owner)) {
      return this.#queueOrConflict(request, grantRequest, deadlineMs);
    }
    const { result, index } = await this.#proposeForClient({
      kind: 'acquire',
      nowMs: this.#stamp(),
      name: request.name,
      ...grantRequest,
      waiterId: null,
    });
    const acquired = asAcquireResult(result);
    switch (acquired.outcome) {
      case 'acquired':
        if (request.signal.aborted && !acquired.renewed) {
          assert(acquired.hold.token === index, 'a new grant has its entry index as token');
          this.#releaseUnwanted(request.name, acquired.hold);
          throw clientGoneError();
        }
        return {
          outcome: 'acquired',
          grant: grantView(request.name, acquired.hold, acquired.mode),
        };
      case 'conflict':
        // The owner's own hold in another mode is what blocks it: waiting cannot help.
        if (acquired.holders.some((hold) => hold.owner !== null && hold.owner === request.owner)) {
          return { outcome: 'conflict', holders: namedHolderViews(acquired.holders) };
        }
        return this.#queueOrConflict(request, grantRequest, deadlineMs, acquired.holders);
      case 'limit-reached':
        if (acquired.limit === 'maxHoldersPerLock' && request.waitMs > 0) {
          return this.#queueOrConflict(request, grantRequest, deadlineMs);
        }
        throw limitReached(acquired.limit, this.#limitDetail(acquired.limit, request.name));
    }
  }

  async release(request: ReleaseRequest): Promise<ReleaseResult> {
    this.#assertServing();
    checkReleaseRequest(request, this.limits);
    this.#requireLeader();
    const { name } = request;
    const handOff = this.#waiting.takeHead(name);
    const nowMs = this.#stamp();
    const command: LockCommand = request.force
      ? { kind: 'force-release', nowMs, name, handOff }
      : { kind: 'release', nowMs, name, owner: request.owner, token: null, handOff };
    const { result } = await this.#proposeForClient(command, {
      applied: (applied) => this.#releaseApplied(name, handOff, applied),
      notApplied: () => this.#handOffOutcome(name, handOff, null),
    });
    const released = asReleaseResult(result);
    switch (released.outcome) {
      case 'released':
        return { outcome: 'released', name, token: released.token };
      case 'not-locked':
        return released;
      case 'not-owner':
        return { outcome: 'not-owner', holders: namedHolderViews(released.holders) };
    }
  }

  async refresh(request: RefreshRequest): Promise<RefreshResult> {
    this.#assertServing();
    checkRefreshRequest(request, this.limits);
    this.#requireLeader();
    const { result } = await this.#proposeForClient({
      kind: 'refresh',
      nowMs: this.#stamp(),
      name: request.name,
      owner: request.owner,
      ttlMs: request.ttlMs,
    });
    const refreshed = asRefreshResult(result);
    switch (refreshed.outcome) {
      case 'refreshed':
        return {
          outcome: 'refreshed',
          grant: grantView(request.name, refreshed.hold, refreshed.mode),
        };
      case 'not-locked':
        return refreshed;
      case 'not-owner':
        return { outcome: 'not-owner', holders: namedHolderViews(refreshed.holders) };
    }
  }

  /**
   * Answers from the applied state, hiding holds whose lease ran out. Without `stale`, only a
   * leader whose lease extension applied answers: then the applied state includes every write
   * acknowledged so far (on a single node; a cluster will add a ReadIndex round).
   */
  async describe(
    name: string,
    options: { readonly stale: boolean },
  ): Promise<LockView | undefined> {
    this.#assertServing();
    checkName(name);
    if (!options.stale) this.#requireReadyLeader();
    const lock = this.#locks.live(name, this.#now());
    if (lock === undefined) return undefined;
    return {
      name,
      mode: lock.mode,
      limit: lock.limit,
      holders: lock.holders.map(holderView),
      waiters: this.#waiting.views(name),
    };
  }

  /** Sorted by name; never sorts: walks the state machine's name index from the page's start. */
  async list(request: ListRequest): Promise<ListResult> {
    this.#assertServing();
    if (!Number.isSafeInteger(request.limit) || request.limit < 1 || request.limit > listLimitMax) {
      throw new LockdError('LOCKD_ERR_BAD_REQUEST', `limit must be 1 to ${listLimitMax}`);
    }
    this.#requireReadyLeader();
    const now = this.#now();
    const { prefix, after, limit } = request;
    const startAfter = after >= prefix ? after : undefined;
    const names =
      startAfter === undefined
        ? this.#locks.names(prefix, false)
        : this.#locks.names(startAfter, true);
    const locks: LockSummary[] = [];
    let scanned = 0;
    let lastScanned: string | undefined;
    for (const name of names) {
      if (!name.startsWith(prefix)) return { locks, next: null };
      if (locks.length === limit || scanned === limit + listScanSlack) {
        return { locks, next: lastScanned ?? null };
      }
      scanned++;
      lastScanned = name;
      const lock = this.#locks.live(name, now);
      if (lock === undefined) continue;
      const holders = lock.holders.map(holderView);
      locks.push({ name, mode: lock.mode, holders, waiters: this.#waiting.count(name) });
    }
    return { locks, next: null };
  }

  subscribe(
    filter: EventFilter,
    lastEventId: string | null,
    onEvent: (event: LockEvent) => void,
  ): EventSubscription {
    this.#assertServing();
    return this.#history.subscribe(filter, lastEventId, onEvent);
  }

  status(): RaftStatus & {
    readonly locks: number;
    readonly leases: number;
    readonly waiters: number;
    readonly pendingProposals: number;
    readonly expiriesInFlight: number;
    readonly leaderReady: boolean;
  } {
    return {
      ...this.#raft.status(),
      locks: this.#locks.size,
      leases: this.#locks.leaseCount,
      waiters: this.#waiting.size,
      pendingProposals: this.#pending.size,
      expiriesInFlight: this.#expiry.inFlight,
      leaderReady: this.#leadership?.ready ?? false,
    };
  }

  /**
   * Resolves once the node has no work scheduled (no ready batch, no queue to pump): what a test
   * awaits after moving its fake clock, instead of sleeping.
   */
  async idle(): Promise<void> {
    const roundsMax = 10_000;
    for (let round = 0; round < roundsMax; round++) {
      if (this.#draining !== undefined) {
        await this.#draining;
        continue;
      }
      if (!this.#drainScheduled && !this.#pumpScheduled && !this.#raft.hasReady()) return;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    assert(false, `the node was still busy after ${roundsMax} rounds`);
  }

  /** Stops ticking, answers every waiter, finishes the batch under way, fails what is pending. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#ticker?.cancel();
    this.#expiry.stop();
    const shuttingDown = new LockdError('LOCKD_ERR_SHUTTING_DOWN', 'The node is shutting down');
    this.#waiting.rejectAll(shuttingDown);
    await this.#draining;
    this.#pending.failAll(shuttingDown);
    await this.#storage.close();
  }

  // ---- Requests and their outcomes -------------------------------------------------------------

  #grantRequest(request: AcquireRequest): GrantRequest {
    return {
      owner: request.owner,
      ttlMs: request.ttlMs,
      mode: request.mode,
      limit: request.mode === 'shared' ? request.limit : null,
      maxLocks: this.limits.maxLocks,
      maxHoldersPerLock: this.limits.maxHoldersPerLock,
    };
  }

  /** Queues the request until its deadline, or answers conflict when it does not wait. */
  #queueOrConflict(
    request: AcquireRequest,
    grantRequest: GrantRequest,
    deadlineMs: number,
    holders?: readonly Hold[],
  ): Promise<AcquireResult> | AcquireResult {
    if (request.waitMs === 0 || this.#stamp() >= deadlineMs) {
      if (holders === undefined) return this.#conflictNow(request.name);
      return { outcome: 'conflict', holders: namedHolderViews(holders) };
    }
    this.#requireLeader();
    const waiting = this.#waiting.wait(request.name, grantRequest, request.signal, deadlineMs);
    // The lock may have been freed while this request's conflict was on its way back.
    this.#queueChanged(request.name);
    return waiting;
  }

  #conflictNow(name: string): AcquireResult {
    const holders = this.#locks.live(name, this.#now())?.holders ?? [];
    return { outcome: 'conflict', holders: namedHolderViews(holders) };
  }

  #holdsLive(name: string, owner: string | null): boolean {
    if (owner === null) return false;
    const holders = this.#locks.live(name, this.#now())?.holders ?? [];
    return holders.some((hold) => hold.owner === owner);
  }

  #limitDetail(limit: 'maxLocks' | 'maxHoldersPerLock', name: string): string {
    return limit === 'maxLocks'
      ? `${this.#locks.size} locks are held; the most is ${this.limits.maxLocks}`
      : `lock ${name} has ${this.limits.maxHoldersPerLock} holders, the most one lock may have`;
  }

  #releaseApplied(name: string, handOff: HandOff | null, result: CommandResult): void {
    const released = asReleaseResult(result);
    this.#handOffOutcome(name, handOff, released.outcome === 'released' ? released.handOff : null);
  }

  /** Tells the waiting room what became of a hand-off; a grant nobody took is released at once. */
  #handOffOutcome(name: string, handOff: HandOff | null, granted: HandOffResult | null): void {
    if (handOff === null) {
      assert(granted === null, 'a grant to a hand-off that was not carried');
      return;
    }
    if (granted === null) {
      this.#waiting.grantOutcome(handOff.waiterId, null);
      return;
    }
    assert(granted.waiterId === handOff.waiterId, 'the hand-off granted another waiter');
    const grant = grantView(name, granted.hold, granted.mode);
    const outcome = this.#waiting.grantOutcome(handOff.waiterId, grant);
    if (outcome === 'refused' && !granted.renewed) this.#releaseUnwanted(name, granted.hold);
  }

  /**
   * Releases a hold granted to a client that is no longer there (it disconnected, or was answered
   * otherwise when leadership moved). By token, so that only that very grant is released.
   */
  #releaseUnwanted(name: string, hold: Hold): void {
    if (!this.#isLeader()) {
      this.#options.logger.warn(
        { name, token: hold.token, owner: hold.owner },
        'a grant nobody will use stays held: this node no longer leads (its lease, if any, ends it)',
      );
      return;
    }
    const handOff = this.#waiting.takeHead(name);
    const proposed = this.#tryPropose(
      {
        kind: 'release',
        nowMs: this.#stamp(),
        name,
        owner: hold.owner,
        token: hold.token,
        handOff,
      },
      {
        applied: (result) => this.#releaseApplied(name, handOff, result),
        dropped: () => this.#handOffOutcome(name, handOff, null),
      },
    );
    if (proposed instanceof LockdError) {
      this.#handOffOutcome(name, handOff, null);
      this.#options.logger.warn(
        { name, token: hold.token, err: proposed },
        'could not release a grant nobody will use (its lease, if any, ends it)',
      );
    }
  }

  // ---- The leader's duties: queues, expiry, lease extension -------------------------------------

  #queueChanged(name: string): void {
    if (this.#waiting.count(name) === 0) return;
    this.#namesToPump.add(name);
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pumpQueues();
    });
  }

  #pumpQueues(): void {
    const names = [...this.#namesToPump];
    this.#namesToPump.clear();
    if (!this.#isLeader() || this.#stopping || this.#failed) return;
    for (const name of names) this.#pump(name);
  }

  /** Proposes an acquire for the head of `name`'s queue if it would be granted now. */
  #pump(name: string): void {
    const head = this.#waiting.peekHead(name);
    if (head === undefined) return;
    const decision = this.#locks.decide(name, head.request, this.#stamp());
    if (decision.kind !== 'grant' && decision.kind !== 'renew') return;
    const handOff = this.#waiting.takeHead(name);
    assert(handOff !== null && handOff.waiterId === head.waiterId, 'the head changed under pump');
    const proposed = this.#tryPropose(
      { kind: 'acquire', nowMs: this.#stamp(), name, ...handOff },
      {
        applied: (result) => {
          const acquired = asAcquireResult(result);
          if (acquired.outcome !== 'acquired') {
            this.#handOffOutcome(name, handOff, null);
            return;
          }
          const { hold, mode, renewed } = acquired;
          this.#handOffOutcome(name, handOff, { waiterId: handOff.waiterId, hold, mode, renewed });
        },
        dropped: () => this.#handOffOutcome(name, handOff, null),
      },
    );
    if (proposed instanceof LockdError) {
      this.#handOffOutcome(name, handOff, null);
      this.#namesToPumpOnTick.add(name);
    }
  }

  #proposeExpire(deadline: LeaseDeadline): boolean {
    const { name, token } = deadline;
    const handOff = this.#waiting.takeHead(name);
    const proposed = this.#tryPropose(
      { kind: 'expire', nowMs: this.#stamp(), name, token, handOff },
      {
        applied: (result) => {
          const expired = asExpireResult(result);
          this.#expiry.settled(token);
          this.#handOffOutcome(
            name,
            handOff,
            expired.outcome === 'expired' ? expired.handOff : null,
          );
        },
        dropped: () => {
          this.#expiry.settled(token);
          this.#handOffOutcome(name, handOff, null);
        },
      },
    );
    if (proposed instanceof LockdError) {
      this.#handOffOutcome(name, handOff, null);
      return false;
    }
    return true;
  }

  /** Compares the core's role with ours: a new term as leader starts over, with a lease extension. */
  #syncLeadership(): void {
    const status = this.#raft.status();
    const leading = status.role === 'leader';
    const leadership = this.#leadership;
    if (leadership !== undefined && (!leading || leadership.term !== status.term)) {
      this.#leadership = undefined;
      this.#expiry.stop();
      this.#namesToPump.clear();
      this.#namesToPumpOnTick.clear();
      this.#waiting.rejectAll(
        new LockdError(
          'LOCKD_ERR_NOT_LEADER',
          'Leadership moved while this request waited for the lock; retry it (with the same owner, a grant that raced this answer is returned again)',
        ),
      );
      this.#options.logger.info({ term: leadership.term }, 'leadership lost: waiters answered');
    }
    if (leading && this.#leadership === undefined) {
      this.#leadership = { term: status.term, extendProposed: false, ready: false };
      this.#proposeExtendLeases();
    }
  }

  /** A new leader's first command; until it applies, the leader neither expires nor reads. */
  #proposeExtendLeases(): void {
    const leadership = this.#leadership;
    if (leadership === undefined || leadership.extendProposed) return;
    const proposed = this.#tryPropose(
      { kind: 'extend-leases', nowMs: this.#stamp() },
      {
        applied: () => {
          if (this.#leadership !== leadership) return;
          leadership.ready = true;
          this.#expiry.start();
          this.#options.logger.info(
            { term: leadership.term, leases: this.#locks.leaseCount },
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

  // ---- The host loop ------------------------------------------------------------------------------

  /** Wall-clock time stamped on commands, epoch milliseconds. */
  #stamp(): number {
    const nowMs = Math.floor(this.#options.clock());
    assert(Number.isSafeInteger(nowMs) && nowMs >= 0, `the clock says ${nowMs}`);
    return nowMs;
  }

  /** The time apply() would see for a command stamped now: never before the state's own time. */
  #now(): number {
    return Math.max(this.#stamp(), this.#locks.timeMs);
  }

  #isLeader(): boolean {
    const leadership = this.#leadership;
    const status = this.#raft.status();
    return leadership !== undefined && status.role === 'leader' && status.term === leadership.term;
  }

  #requireLeader(): void {
    if (!this.#isLeader()) throw noLeaderError(this.#raft.status().leader);
  }

  #requireReadyLeader(): void {
    this.#requireLeader();
    if (this.#leadership?.ready !== true) {
      throw new LockdError(
        'LOCKD_ERR_NO_LEADER',
        'This node was just elected leader and is catching up; retry shortly',
      );
    }
  }

  /** Proposes for a client: resolves with the result once applied, rejects if it never will be. */
  #proposeForClient(
    command: LockCommand,
    hooks: { applied?: (result: CommandResult) => void; notApplied?: () => void } = {},
  ): Promise<{ readonly result: CommandResult; readonly index: number }> {
    return new Promise((resolve, reject) => {
      const proposed = this.#tryPropose(command, {
        applied: (result, index) => {
          hooks.applied?.(result);
          resolve({ result, index });
        },
        dropped: (error) => {
          hooks.notApplied?.();
          reject(error);
        },
      });
      if (proposed instanceof LockdError) {
        hooks.notApplied?.();
        reject(proposed);
      }
    });
  }

  /** Appends `command` to the log; the index it got, or why not (nothing was proposed then). */
  #tryPropose(
    command: LockCommand,
    handlers: {
      applied: (result: CommandResult, index: number) => void;
      dropped: (error: LockdError) => void;
    },
  ): number | LockdError {
    if (this.#stopping || this.#failed) {
      return new LockdError('LOCKD_ERR_SHUTTING_DOWN', 'The node is shutting down');
    }
    const proposed = this.#raft.propose(encodeCommand(command));
    if (!proposed.ok) {
      if (proposed.reason === 'too-many-pending') {
        return new LockdError(
          'LOCKD_ERR_OVERLOADED',
          'Too many changes are waiting to commit; retry shortly',
        );
      }
      return noLeaderError(proposed.leader);
    }
    this.#pending.add(proposed.index, proposed.term, handlers);
    this.#scheduleDrain();
    return proposed.index;
  }

  #assertServing(): void {
    if (this.#stopping)
      throw new LockdError('LOCKD_ERR_SHUTTING_DOWN', 'The node is shutting down');
    if (this.#failed)
      throw new LockdError('LOCKD_ERR_INTERNAL', 'The node has failed and is stopping');
  }

  #scheduleTick(): void {
    this.#ticker = this.#scheduler.after(this.#options.tickMs, () => this.#tick());
  }

  #tick(): void {
    if (this.#stopping || this.#failed) return;
    this.#scheduleTick();
    this.#raft.tick();
    this.#scheduleDrain();
    if (!this.#isLeader()) return;
    this.#proposeExtendLeases();
    for (const name of this.#namesToPumpOnTick) this.#queueChanged(name);
    this.#namesToPumpOnTick.clear();
  }

  /**
   * Runs the ready loop on a later turn of the event loop, so that every request that arrived in
   * the meantime joins the same batch and shares its fsync.
   */
  #scheduleDrain(): void {
    if (this.#drainScheduled || this.#draining !== undefined || this.#failed) return;
    this.#drainScheduled = true;
    setImmediate(() => {
      this.#drainScheduled = false;
      this.#drain().catch((error: unknown) => this.#fail(error));
    });
  }

  #drain(): Promise<void> {
    assert(this.#draining === undefined, 'only one ready loop may run at a time');
    this.#draining = this.#drainLoop().finally(() => {
      this.#draining = undefined;
      // A proposal made as the loop was finishing (by a continuation of a result) waits for no tick.
      if (this.#raft.hasReady() && !this.#stopping) this.#scheduleDrain();
    });
    return this.#draining;
  }

  async #drainLoop(): Promise<void> {
    while (this.#raft.hasReady() && !this.#failed) {
      const ready = this.#raft.ready();
      await this.#persist(ready);
      assert(ready.messages.length === 0, 'a single-node cluster has no one to send messages to');
      // Only a leader sends snapshots, and RaftStorage cannot persist one yet (a later issue).
      assert(ready.snapshot === undefined, 'a single-node cluster receives no snapshot');
      this.#apply(ready.committedEntries);
      this.#raft.advance();
      if (ready.softState !== undefined) {
        this.#options.logger.info(
          { ...ready.softState, term: this.#raft.status().term },
          'raft role changed',
        );
      }
      this.#syncLeadership();
      this.#expiry.rearm();
    }
  }

  async #persist(ready: Ready): Promise<void> {
    if (ready.hardState === undefined && ready.entries.length === 0) return;
    await this.#storage.save({ hardState: ready.hardState, entries: ready.entries });
  }

  /** Replaces the whole lock state with a snapshot's (events before it cannot be replayed). */
  #restore(snapshot: Snapshot): void {
    const restored = LockStateMachine.restore(snapshot.data);
    assert(
      restored.appliedIndex === snapshot.index,
      `snapshot at ${snapshot.index} holds a state applied to ${restored.appliedIndex}`,
    );
    this.#locks = restored;
    this.#history.markMissingThrough(snapshot.index);
    this.#expiry.rearm();
  }

  #apply(entries: readonly Entry[]): void {
    for (const entry of entries) {
      // A leader's no-op, or a membership change (the core applies it): no lock state changes.
      if (entry.type !== EntryType.normal) {
        this.#locks.applyNoop(entry.index);
        this.#pending.settle(entry.index, entry.term, undefined);
        continue;
      }
      const command = decodeCommand(entry.data);
      const applied = this.#locks.apply(entry.index, command);
      for (const event of applied.events) this.#history.record(eventView(event));
      if (command.kind !== 'extend-leases') this.#queueChanged(command.name);
      this.#pending.settle(entry.index, entry.term, applied.result);
    }
  }

  #fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#ticker?.cancel();
    this.#expiry.stop();
    this.#options.logger.error({ err: error }, 'raft node failed; it must stop');
    const failed = new LockdError('LOCKD_ERR_INTERNAL', 'The node failed while committing');
    this.#waiting.rejectAll(failed);
    this.#pending.failAll(failed);
    this.#options.onFatal(error);
  }
}

function noLeaderError(leader: NodeId): LockdError {
  const detail = leader === 0 ? 'no leader is elected yet' : `node ${leader} is the leader`;
  return new LockdError('LOCKD_ERR_NO_LEADER', `This node cannot serve the request: ${detail}`);
}
