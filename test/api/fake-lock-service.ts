/**
 * An in-memory LockService for the API and client tests, with the semantics the node promises:
 * owners, leases that expire, fencing tokens from a simulated Raft index, shared locks with a
 * limit, FIFO waiters with hand-off, removal of a waiter whose client went away (and release of a
 * grant that raced it), listing, and events with a bounded history for resuming.
 *
 * Time: leases follow `now()`, a manual clock by default (`advance(ms)` moves it and expires what
 * is due), so bodies carry fixed instants; pass `now: Date.now` for real time. A waiter's `wait`
 * elapses in real time, like the HTTP time-out that races it.
 *
 * Every call is recorded; `behaviour` (or `overrides` per method) makes calls fail, hang, or
 * answer what the test says.
 */

import type {
  AcquireRequest,
  AcquireResult,
  EventFilter,
  EventSubscription,
  Grant,
  HolderView,
  Limits,
  ListRequest,
  ListResult,
  LockEvent,
  LockEventType,
  LockMode,
  LockService,
  LockView,
  RefreshRequest,
  RefreshResult,
  ReleaseRequest,
  ReleaseResult,
} from '../../src/api/lock-service.js';
import { LockdError } from '../../src/errors.js';
import type { CancelSignal } from '../../src/util/cancellation.js';

export type ServiceMethod = 'acquire' | 'release' | 'refresh' | 'describe' | 'list' | 'subscribe';

export interface ServiceCall {
  readonly method: ServiceMethod;
  /** The lock name; for list and subscribe, the prefix. */
  readonly name: string;
  /** What the service was asked, without the signal. */
  readonly request: Readonly<Record<string, unknown>>;
}

/** How calls behave: normally, by throwing `error`, by never settling, or by a test's function. */
export type FakeBehaviour =
  | { readonly kind: 'normal' }
  | { readonly kind: 'throw'; readonly error: unknown }
  | { readonly kind: 'hang' }
  | { readonly kind: 'custom'; readonly answer: (call: ServiceCall) => Promise<unknown> };

export const fakeEpochMs = Date.parse('2024-01-01T00:00:00.000Z');

export const defaultFakeLimits: Limits = {
  maxLocks: 10_000,
  maxWaitersPerLock: 100,
  maxHoldersPerLock: 64,
  maxOwnerBytes: 128,
  maxTtlMs: 3_600_000,
  maxWaitMs: 300_000,
};

interface Hold {
  readonly owner: string | null;
  readonly token: number;
  readonly acquiredAtMs: number;
  ttlMs: number | null;
  expiresAtMs: number | null;
}

interface Waiter {
  readonly request: AcquireRequest;
  readonly enqueuedAtMs: number;
  readonly settle: (result: AcquireResult) => void;
  readonly timer: NodeJS.Timeout;
}

interface LockState {
  readonly name: string;
  mode: LockMode;
  limit: number | null;
  holders: Hold[];
  waiters: Waiter[];
}

interface Subscriber {
  readonly filter: EventFilter;
  readonly onEvent: (event: LockEvent) => void;
}

export interface FakeOptions {
  readonly now?: () => number;
  readonly limits?: Partial<Limits>;
  /** Events retained for resuming; older ones are dropped (then a resume reports a gap). */
  readonly historyLimit?: number;
}

function compareEventIds(left: string, right: string): number {
  const [leftIndex = 0, leftN = 0] = left.split('-').map(Number);
  const [rightIndex = 0, rightN = 0] = right.split('-').map(Number);
  return leftIndex !== rightIndex ? leftIndex - rightIndex : leftN - rightN;
}

function matches(filter: EventFilter, name: string): boolean {
  return filter.name !== null ? filter.name === name : name.startsWith(filter.prefix);
}

export class FakeLockService implements LockService {
  readonly limits: Limits;
  readonly calls: ServiceCall[] = [];
  /** performance.now() at every call, in call order (parallel to `calls`). */
  readonly callTimesMs: number[] = [];
  /** The signal of every acquire, in call order. */
  readonly acquireSignals: CancelSignal[] = [];
  behaviour: FakeBehaviour = { kind: 'normal' };
  /** What leaderClientAddress() answers: set it to play a follower that knows its leader. */
  leaderAddress: string | null = null;
  /** Behaviour for one method, over `behaviour`. */
  readonly overrides: Partial<Record<ServiceMethod, FakeBehaviour>> = {};
  private readonly locks = new Map<string, LockState>();
  private readonly history: LockEvent[] = [];
  private readonly historyLimit: number;
  /** The id of the newest event dropped from the history, if any was. */
  private droppedUpTo: string | null = null;
  private readonly subscribers = new Set<Subscriber>();
  private readonly watchers = new Set<() => void>();
  private readonly clock: () => number;
  private manualNowMs = fakeEpochMs;
  /** The simulated Raft index: every change is one entry. */
  private index = 0;

  constructor(options: FakeOptions = {}) {
    this.limits = { ...defaultFakeLimits, ...options.limits };
    this.historyLimit = options.historyLimit ?? 1_000;
    this.clock = options.now ?? (() => this.manualNowMs);
  }

  // ---- LockService ----

  acquire(request: AcquireRequest): Promise<AcquireResult> {
    const { signal, ...recorded } = request;
    this.acquireSignals.push(signal);
    return this.call({ method: 'acquire', name: request.name, request: recorded }, () =>
      this.acquireNow(request),
    );
  }

  release(request: ReleaseRequest): Promise<ReleaseResult> {
    return this.call({ method: 'release', name: request.name, request: { ...request } }, () =>
      Promise.resolve(this.releaseNow(request)),
    );
  }

  refresh(request: RefreshRequest): Promise<RefreshResult> {
    return this.call({ method: 'refresh', name: request.name, request: { ...request } }, () =>
      Promise.resolve(this.refreshNow(request)),
    );
  }

  describe(name: string, options: { readonly stale: boolean }): Promise<LockView | undefined> {
    return this.call({ method: 'describe', name, request: { name, ...options } }, () => {
      this.expireDue();
      const lock = this.locks.get(name);
      return Promise.resolve(lock === undefined ? undefined : this.view(lock));
    });
  }

  list(request: ListRequest): Promise<ListResult> {
    return this.call({ method: 'list', name: request.prefix, request: { ...request } }, () => {
      this.expireDue();
      const names = [...this.locks.keys()]
        .filter((name) => name.startsWith(request.prefix) && name > request.after)
        .sort();
      const page = names.slice(0, request.limit);
      const locks = page.map((name) => {
        const view = this.view(this.lockNamed(name));
        return { name, mode: view.mode, holders: view.holders, waiters: view.waiters.length };
      });
      const next = names.length > request.limit ? (page.at(-1) ?? null) : null;
      return Promise.resolve({ locks, next });
    });
  }

  leaderClientAddress(): string | null {
    return this.leaderAddress;
  }

  subscribe(
    filter: EventFilter,
    lastEventId: string | null,
    onEvent: (event: LockEvent) => void,
  ): EventSubscription {
    this.callTimesMs.push(performance.now());
    this.calls.push({
      method: 'subscribe',
      name: filter.name ?? filter.prefix,
      request: { ...filter, lastEventId },
    });
    this.notify();
    const behaviour = this.overrides.subscribe ?? this.behaviour;
    if (behaviour.kind === 'throw') throw behaviour.error;
    const subscriber: Subscriber = { filter, onEvent };
    this.subscribers.add(subscriber);
    this.notify();
    return {
      replay: this.replay(filter, lastEventId),
      unsubscribe: () => {
        this.subscribers.delete(subscriber);
        this.notify();
      },
    };
  }

  // ---- for tests ----

  /** Moves the manual clock and expires the leases now due. */
  advance(durationMs: number): void {
    this.manualNowMs += durationMs;
    this.expireDue();
  }

  /** Resolves once `predicate` holds, checked now and after every change and call. */
  until(predicate: () => boolean): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (!predicate()) return;
        this.watchers.delete(check);
        resolve();
      };
      this.watchers.add(check);
    });
  }

  /** `method name` of every call so far. */
  callSummary(): string[] {
    return this.calls.map((call) => `${call.method} ${call.name}`);
  }

  holders(name: string): readonly HolderView[] {
    const lock = this.locks.get(name);
    return lock === undefined ? [] : this.view(lock).holders;
  }

  waiterCount(name: string): number {
    return this.locks.get(name)?.waiters.length ?? 0;
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Retained events, oldest first. */
  get events(): readonly LockEvent[] {
    return this.history;
  }

  // ---- semantics ----

  private acquireNow(request: AcquireRequest): Promise<AcquireResult> {
    this.expireDue();
    const existing = this.locks.get(request.name);
    const own = existing?.holders.find(
      (hold) => hold.owner !== null && hold.owner === request.owner,
    );
    if (existing !== undefined && own !== undefined) {
      // The same owner again: the same hold, its lease renewed (a retry is safe).
      return Promise.resolve({
        outcome: 'acquired',
        grant: this.renew(existing, own, request.ttlMs),
      });
    }
    if (existing === undefined && this.locks.size >= this.limits.maxLocks) {
      throw new LockdError(
        'LOCKD_ERR_LIMIT_REACHED',
        `Too many locks (max ${this.limits.maxLocks})`,
      );
    }
    const lock = existing ?? this.newLock(request);
    if (this.canGrant(lock, request) && lock.waiters.length === 0) {
      return Promise.resolve({ outcome: 'acquired', grant: this.grant(lock, request) });
    }
    if (request.waitMs === 0 || request.signal.aborted) {
      return Promise.resolve(this.conflict(lock));
    }
    if (lock.waiters.length >= this.limits.maxWaitersPerLock) {
      throw new LockdError(
        'LOCKD_ERR_LIMIT_REACHED',
        `Too many waiters on lock ${lock.name} (max ${this.limits.maxWaitersPerLock})`,
      );
    }
    return this.enqueue(lock, request);
  }

  private newLock(request: AcquireRequest): LockState {
    const lock: LockState = {
      name: request.name,
      mode: request.mode,
      limit: request.limit,
      holders: [],
      waiters: [],
    };
    this.locks.set(request.name, lock);
    return lock;
  }

  private canGrant(lock: LockState, request: AcquireRequest): boolean {
    if (lock.holders.length === 0) return true;
    if (lock.mode !== 'shared' || request.mode !== 'shared') return false;
    return lock.holders.length < (lock.limit ?? this.limits.maxHoldersPerLock);
  }

  private conflict(lock: LockState): AcquireResult {
    const holders = this.view(lock).holders.filter((holder) => holder.owner !== null);
    this.dropIfFree(lock);
    return { outcome: 'conflict', holders };
  }

  private enqueue(lock: LockState, request: AcquireRequest): Promise<AcquireResult> {
    return new Promise((resolve) => {
      const leave = (): void => {
        lock.waiters = lock.waiters.filter((waiter) => waiter.request !== request);
        this.changed();
      };
      const timer = setTimeout(() => {
        leave();
        resolve(this.conflict(lock));
      }, request.waitMs);
      lock.waiters.push({ request, enqueuedAtMs: this.clock(), settle: resolve, timer });
      request.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        if (lock.waiters.some((waiter) => waiter.request === request)) {
          leave();
          resolve(this.conflict(lock));
        }
      });
      this.changed();
    });
  }

  private grant(lock: LockState, request: AcquireRequest): Grant {
    if (lock.holders.length === 0) {
      lock.mode = request.mode;
      lock.limit = request.limit;
    }
    const token = ++this.index;
    const nowMs = this.clock();
    const hold: Hold = {
      owner: request.owner,
      token,
      acquiredAtMs: nowMs,
      ttlMs: request.ttlMs,
      expiresAtMs: request.ttlMs === null ? null : nowMs + request.ttlMs,
    };
    lock.holders.push(hold);
    this.emit(token, [['grant', lock.name, hold]]);
    // A client that went away between the grant and its answer gives the grant back at once.
    request.signal.addEventListener('abort', () => {
      if (lock.holders.includes(hold)) this.removeHolds(lock, [hold], 'release');
    });
    return this.grantOf(lock, hold);
  }

  private renew(lock: LockState, hold: Hold, ttlMs: number | null): Grant {
    const index = ++this.index;
    hold.ttlMs = ttlMs ?? hold.ttlMs;
    hold.expiresAtMs = hold.ttlMs === null ? null : this.clock() + hold.ttlMs;
    this.emit(index, [['refresh', lock.name, hold]]);
    return this.grantOf(lock, hold);
  }

  private releaseNow(request: ReleaseRequest): ReleaseResult {
    this.expireDue();
    const lock = this.locks.get(request.name);
    if (lock === undefined) return { outcome: 'not-locked' };
    const first = lock.holders[0];
    if (request.force && first !== undefined) {
      this.removeHolds(lock, [...lock.holders], 'force-release');
      return { outcome: 'released', name: lock.name, token: first.token };
    }
    const hold = lock.holders.find((candidate) => candidate.owner === request.owner);
    if (hold === undefined) {
      return { outcome: 'not-owner', holders: this.view(lock).holders };
    }
    this.removeHolds(lock, [hold], 'release');
    return { outcome: 'released', name: lock.name, token: hold.token };
  }

  private refreshNow(request: RefreshRequest): RefreshResult {
    this.expireDue();
    const lock = this.locks.get(request.name);
    if (lock === undefined) return { outcome: 'not-locked' };
    const hold = lock.holders.find((candidate) => candidate.owner === request.owner);
    if (hold === undefined) return { outcome: 'not-owner', holders: this.view(lock).holders };
    return { outcome: 'refreshed', grant: this.renew(lock, hold, request.ttlMs) };
  }

  private expireDue(): void {
    const nowMs = this.clock();
    for (const lock of [...this.locks.values()]) {
      const due = lock.holders.filter(
        (hold) => hold.expiresAtMs !== null && hold.expiresAtMs <= nowMs,
      );
      if (due.length > 0) this.removeHolds(lock, due, 'expire');
    }
  }

  /** One entry removes `holds`, then the head waiters get the lock in the same step. */
  private removeHolds(lock: LockState, holds: readonly Hold[], type: LockEventType): void {
    const index = ++this.index;
    lock.holders = lock.holders.filter((hold) => !holds.includes(hold));
    this.emit(
      index,
      holds.map((hold) => [type, lock.name, hold] as const),
    );
    while (lock.waiters.length > 0) {
      const head = lock.waiters[0];
      if (head === undefined || !this.canGrant(lock, head.request)) break;
      lock.waiters.shift();
      clearTimeout(head.timer);
      head.settle({ outcome: 'acquired', grant: this.grant(lock, head.request) });
    }
    this.dropIfFree(lock);
    this.changed();
  }

  private dropIfFree(lock: LockState): void {
    if (lock.holders.length === 0 && lock.waiters.length === 0) this.locks.delete(lock.name);
  }

  // ---- views and events ----

  private lockNamed(name: string): LockState {
    const lock = this.locks.get(name);
    if (lock === undefined) throw new Error(`no lock ${name}`);
    return lock;
  }

  private iso(ms: number | null): string | null {
    return ms === null ? null : new Date(ms).toISOString();
  }

  private holderView(hold: Hold): HolderView {
    return {
      owner: hold.owner,
      token: hold.token,
      acquiredAt: new Date(hold.acquiredAtMs).toISOString(),
      ttlMs: hold.ttlMs,
      expiresAt: this.iso(hold.expiresAtMs),
    };
  }

  private grantOf(lock: LockState, hold: Hold): Grant {
    return { name: lock.name, mode: lock.mode, ...this.holderView(hold) };
  }

  private view(lock: LockState): LockView {
    const nowMs = this.clock();
    return {
      name: lock.name,
      mode: lock.mode,
      limit: lock.limit,
      holders: lock.holders.map((hold) => this.holderView(hold)),
      waiters: lock.waiters.map((waiter, position) => ({
        owner: waiter.request.owner,
        position: position + 1,
        waitedMs: nowMs - waiter.enqueuedAtMs,
      })),
    };
  }

  private emit(
    index: number,
    changes: ReadonlyArray<readonly [LockEventType, string, Hold]>,
  ): void {
    const at = new Date(this.clock()).toISOString();
    changes.forEach(([type, name, hold], n) => {
      const event: LockEvent = {
        id: `${index}-${n}`,
        type,
        name,
        owner: hold.owner,
        token: hold.token,
        index,
        at,
      };
      this.history.push(event);
      if (this.history.length > this.historyLimit) {
        this.droppedUpTo = this.history.shift()?.id ?? this.droppedUpTo;
      }
      for (const subscriber of [...this.subscribers]) {
        if (matches(subscriber.filter, name)) subscriber.onEvent(event);
      }
    });
  }

  private replay(filter: EventFilter, lastEventId: string | null): readonly LockEvent[] | 'gap' {
    if (lastEventId === null) return [];
    if (this.droppedUpTo !== null && compareEventIds(this.droppedUpTo, lastEventId) > 0) {
      return 'gap';
    }
    return this.history.filter(
      (event) => compareEventIds(event.id, lastEventId) > 0 && matches(filter, event.name),
    );
  }

  // ---- calls ----

  private changed(): void {
    this.notify();
  }

  private notify(): void {
    for (const watcher of [...this.watchers]) watcher();
  }

  private call<T>(call: ServiceCall, normal: () => Promise<T>): Promise<T> {
    this.calls.push(call);
    this.callTimesMs.push(performance.now());
    this.notify();
    const behaviour = this.overrides[call.method] ?? this.behaviour;
    switch (behaviour.kind) {
      case 'normal':
        try {
          return normal();
        } catch (error) {
          return Promise.reject(error);
        }
      case 'throw':
        return Promise.reject(behaviour.error);
      case 'hang':
        return new Promise<T>(() => {});
      case 'custom':
        // The test decides what comes back, including things a real service must never return.
        return behaviour.answer(call) as Promise<T>;
    }
  }
}
