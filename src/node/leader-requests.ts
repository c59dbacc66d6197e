/**
 * The writes as the leader serves them (a follower forwards them here): each one proposed with
 * the leader's clock, its result known once its entry applies. A request that finds the lock held
 * may queue (FIFO, no barging) until its wait ends.
 */
import type {
  AcquireRequest,
  AcquireResult,
  Limits,
  RefreshRequest,
  RefreshResult,
  ReleaseRequest,
  ReleaseResult,
} from '../api/lock-service.js';
import type { GrantRequest, Hold, LockCommand } from '../locks/commands.js';
import type { LockStateMachine } from '../locks/state-machine.js';
import { assert } from '../util/assert.js';
import type { LeaderDuties } from './leader-duties.js';
import { limitReached } from './limits.js';
import type { Proposer } from './proposer.js';
import { asAcquireResult, asRefreshResult, asReleaseResult } from './results.js';
import { grantView, namedHolderViews } from './views.js';
import { clientGoneError } from './waiters.js';

export interface LeaderRequestsOptions {
  readonly proposer: Proposer;
  readonly duties: LeaderDuties;
  readonly limits: Limits;
  readonly locks: () => LockStateMachine;
  readonly stamp: () => number;
  readonly now: () => number;
  /** Throws the error a request gets when this node does not lead (any more). */
  readonly requireLeader: () => void;
}

export class LeaderRequests {
  readonly #options: LeaderRequestsOptions;

  constructor(options: LeaderRequestsOptions) {
    this.#options = options;
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    if (request.signal.aborted) throw clientGoneError();
    this.#options.requireLeader();
    const { duties } = this.#options;
    const deadlineMs = this.#options.stamp() + request.waitMs;
    const grantRequest = this.#grantRequest(request);
    // No barging: while others queue, a new request queues behind them (unless it is the holder).
    if (duties.waiting.count(request.name) > 0 && !this.#holdsLive(request.name, request.owner)) {
      return this.#queueOrConflict(request, grantRequest, deadlineMs);
    }
    const { result, index } = await this.#options.proposer.forClient({
      kind: 'acquire',
      nowMs: this.#options.stamp(),
      name: request.name,
      ...grantRequest,
      waiterId: null,
    });
    const acquired = asAcquireResult(result);
    switch (acquired.outcome) {
      case 'acquired': {
        if (request.signal.aborted && !acquired.renewed) {
          assert(acquired.hold.token === index, 'a new grant has its entry index as token');
          const { owner, token } = acquired.hold;
          duties.releaseUnwanted({ name: request.name, owner, token });
          throw clientGoneError();
        }
        const grant = grantView(request.name, acquired.hold, acquired.mode);
        if (acquired.renewed) duties.renewedGrants.add(grant);
        return { outcome: 'acquired', grant };
      }
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
    this.#options.requireLeader();
    const { duties } = this.#options;
    const { name } = request;
    const handOff = duties.waiting.takeHead(name);
    const nowMs = this.#options.stamp();
    const command: LockCommand = request.force
      ? { kind: 'force-release', nowMs, name, handOff }
      : { kind: 'release', nowMs, name, owner: request.owner, token: null, handOff };
    const { result } = await this.#options.proposer.forClient(command, {
      applied: (applied) => duties.releaseApplied(name, handOff, applied),
      notApplied: () => duties.handOffOutcome(name, handOff, null),
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
    this.#options.requireLeader();
    const { result } = await this.#options.proposer.forClient({
      kind: 'refresh',
      nowMs: this.#options.stamp(),
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

  #grantRequest(request: AcquireRequest): GrantRequest {
    return {
      owner: request.owner,
      ttlMs: request.ttlMs,
      mode: request.mode,
      limit: request.mode === 'shared' ? request.limit : null,
      maxLocks: this.#options.limits.maxLocks,
      maxHoldersPerLock: this.#options.limits.maxHoldersPerLock,
    };
  }

  /** Queues the request until its deadline, or answers conflict when it does not wait. */
  #queueOrConflict(
    request: AcquireRequest,
    grantRequest: GrantRequest,
    deadlineMs: number,
    holders?: readonly Hold[],
  ): Promise<AcquireResult> | AcquireResult {
    const { duties } = this.#options;
    if (request.waitMs === 0 || this.#options.stamp() >= deadlineMs) {
      const shown =
        holders ?? this.#options.locks().live(request.name, this.#options.now())?.holders ?? [];
      return { outcome: 'conflict', holders: namedHolderViews(shown) };
    }
    this.#options.requireLeader();
    const waiting = duties.waiting.wait(request.name, grantRequest, request.signal, deadlineMs);
    // The lock may have been freed while this request's conflict was on its way back.
    duties.queueChanged(request.name);
    return waiting;
  }

  #holdsLive(name: string, owner: string | null): boolean {
    if (owner === null) return false;
    const holders = this.#options.locks().live(name, this.#options.now())?.holders ?? [];
    return holders.some((hold) => hold.owner === owner);
  }

  #limitDetail(limit: 'maxLocks' | 'maxHoldersPerLock', name: string): string {
    const { limits } = this.#options;
    return limit === 'maxLocks'
      ? `${this.#options.locks().size} locks are held; the most is ${limits.maxLocks}`
      : `lock ${name} has ${limits.maxHoldersPerLock} holders, the most one lock may have`;
  }
}
