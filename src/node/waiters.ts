/**
 * The leader's waiting room: clients blocked on a held lock, FIFO per lock, each with a deadline
 * and the AbortSignal of its connection. The node hands a lock to the head of its queue (a
 * release or an expiry carries the head in the same entry); this class keeps the bookkeeping
 * straight while such a grant is in flight:
 *
 * - queued: in the queue, may be taken as a hand-off.
 * - granting: taken; an entry that may grant it is in flight. Its deadline or its client's
 *   disconnect is only noted, and acted on when the entry's outcome comes back: a grant to a
 *   waiter whose deadline passed still answers it (a little late); a grant to a waiter whose
 *   client is gone is refused, and the node releases it at once.
 * - settled: answered and out of every queue. A grant that arrives for it is refused.
 */
import type { AcquireResult, Grant, WaiterView } from '../api/lock-service.js';
import { LockdError } from '../errors.js';
import type { GrantRequest, HandOff } from '../locks/commands.js';
import { assert } from '../util/assert.js';
import type { CancelSignal } from '../util/cancellation.js';
import { limitReached } from './limits.js';
import type { Scheduler, Timer } from './scheduler.js';

interface Waiter {
  readonly id: number;
  readonly name: string;
  readonly request: GrantRequest;
  readonly enqueuedAtMs: number;
  readonly signal: CancelSignal;
  readonly resolve: (result: AcquireResult) => void;
  readonly reject: (error: LockdError) => void;
  readonly timer: Timer;
  readonly onAbort: () => void;
  granting: boolean;
  deadlinePassed: boolean;
  clientGone: boolean;
}

export interface WaitingRoomOptions {
  readonly scheduler: Scheduler;
  readonly clock: () => number;
  readonly maxWaitersPerLock: number;
  /** The answer to a waiter whose wait elapsed: a conflict listing the lock's holders now. */
  readonly conflictNow: (name: string) => AcquireResult;
  /** The queue of `name` lost a waiter (its head may now fit): the node tries to grant. */
  readonly onQueueChanged: (name: string) => void;
}

/** The error a request gets when its client went away before it was answered. */
export function clientGoneError(): LockdError {
  return new LockdError('LOCKD_ERR_BAD_REQUEST', 'The request was cancelled: the client went away');
}

export class WaitingRoom {
  readonly #options: WaitingRoomOptions;
  /** Invariant: no queue is empty; every waiter in a queue is in #byId and vice versa. */
  readonly #queues = new Map<string, Waiter[]>();
  readonly #byId = new Map<number, Waiter>();
  #nextId = 1;

  constructor(options: WaitingRoomOptions) {
    this.#options = options;
  }

  /** Waiters in every queue. */
  get size(): number {
    return this.#byId.size;
  }

  count(name: string): number {
    return this.#queues.get(name)?.length ?? 0;
  }

  /** The queue of `name` in order, as GET /lock/:name shows it. */
  views(name: string): WaiterView[] {
    const now = this.#options.clock();
    return (this.#queues.get(name) ?? []).map((waiter, position) => ({
      owner: waiter.request.owner,
      position: position + 1,
      waitedMs: Math.max(0, now - waiter.enqueuedAtMs),
    }));
  }

  /**
   * Queues a request for `name` until `deadlineMs` (epoch ms). Settles with the grant, a conflict
   * when the deadline passes, or an error (client gone, leadership lost).
   */
  wait(
    name: string,
    request: GrantRequest,
    signal: CancelSignal,
    deadlineMs: number,
  ): Promise<AcquireResult> {
    const queue = this.#queues.get(name) ?? [];
    if (queue.length >= this.#options.maxWaitersPerLock) {
      throw limitReached(
        'maxWaitersPerLock',
        `${queue.length} requests already wait for lock ${name}`,
      );
    }
    if (signal.aborted) throw clientGoneError();
    return new Promise<AcquireResult>((resolve, reject) => {
      const id = this.#nextId++;
      const delayMs = Math.max(0, deadlineMs - this.#options.clock());
      const waiter: Waiter = {
        id,
        name,
        request,
        enqueuedAtMs: this.#options.clock(),
        signal,
        resolve,
        reject,
        timer: this.#options.scheduler.after(delayMs, () => this.#deadlinePassed(id)),
        onAbort: () => this.#clientGone(id),
        granting: false,
        deadlinePassed: false,
        clientGone: false,
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      queue.push(waiter);
      this.#queues.set(name, queue);
      this.#byId.set(id, waiter);
    });
  }

  /** The head of `name`'s queue, if it is queued (not already in a grant in flight). */
  peekHead(
    name: string,
  ): { readonly waiterId: number; readonly request: GrantRequest } | undefined {
    const head = this.#queues.get(name)?.[0];
    if (head === undefined || head.granting) return undefined;
    return { waiterId: head.id, request: head.request };
  }

  /**
   * Takes the queued head as a hand-off for an entry about to be proposed. Every take must be
   * answered by exactly one grantOutcome: the entry's outcome, or null if it was never proposed
   * or was dropped.
   */
  takeHead(name: string): HandOff | null {
    const head = this.#queues.get(name)?.[0];
    if (head === undefined || head.granting) return null;
    head.granting = true;
    return { waiterId: head.id, ...head.request };
  }

  /**
   * The outcome of an entry that carried waiter `waiterId`: `grant` when it was granted, null when
   * not, or when the entry was never proposed or was dropped (the waiter stays at the head). 'taken': the waiter got it. 'refused': nobody is there to use the
   * grant (the client went away, or the waiter was already answered), so the node must release it.
   */
  grantOutcome(waiterId: number, grant: Grant | null): 'taken' | 'refused' | 'none' {
    const waiter = this.#byId.get(waiterId);
    if (waiter === undefined) return grant === null ? 'none' : 'refused';
    assert(waiter.granting, `waiter ${waiterId} got an outcome it was not taken for`);
    waiter.granting = false;
    if (grant === null) {
      this.#settleIfDue(waiter);
      return 'none';
    }
    this.#remove(waiter);
    if (waiter.clientGone) {
      waiter.reject(clientGoneError());
      return 'refused';
    }
    waiter.resolve({ outcome: 'acquired', grant });
    return 'taken';
  }

  /** Answers every waiter with `error` (leadership lost, node stopping) and empties every queue. */
  rejectAll(error: LockdError): void {
    const waiters = [...this.#byId.values()];
    for (const waiter of waiters) this.#remove(waiter);
    for (const waiter of waiters) waiter.reject(error);
    assert(this.#queues.size === 0 && this.#byId.size === 0, 'waiters left after rejectAll');
  }

  #deadlinePassed(id: number): void {
    const waiter = this.#byId.get(id);
    if (waiter === undefined) return;
    waiter.deadlinePassed = true;
    this.#settleIfDue(waiter);
  }

  #clientGone(id: number): void {
    const waiter = this.#byId.get(id);
    if (waiter === undefined) return;
    waiter.clientGone = true;
    this.#settleIfDue(waiter);
  }

  /** A queued waiter whose deadline passed or whose client left is answered and removed. */
  #settleIfDue(waiter: Waiter): void {
    if (waiter.granting || !(waiter.deadlinePassed || waiter.clientGone)) return;
    this.#remove(waiter);
    if (waiter.clientGone) waiter.reject(clientGoneError());
    else waiter.resolve(this.#options.conflictNow(waiter.name));
    this.#options.onQueueChanged(waiter.name);
  }

  #remove(waiter: Waiter): void {
    waiter.timer.cancel();
    waiter.signal.removeEventListener('abort', waiter.onAbort);
    this.#byId.delete(waiter.id);
    const queue = this.#queues.get(waiter.name);
    assert(queue !== undefined, `waiter ${waiter.id} has no queue`);
    const position = queue.indexOf(waiter);
    assert(position >= 0, `waiter ${waiter.id} is not in its queue`);
    queue.splice(position, 1);
    if (queue.length === 0) this.#queues.delete(waiter.name);
  }
}
