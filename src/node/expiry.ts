/**
 * The leader's expired-lease unlocker. One timer, set for the soonest deadline (never a poll of
 * every lock); when it fires, the leader proposes an `expire` entry for each overdue hold, in
 * bounded batches, and never two for the same hold at once. apply() decides for itself whether the
 * hold is still overdue when the entry applies (a refresh may have come first).
 */
import type { LeaseDeadline } from '../locks/state-machine.js';
import { assert } from '../util/assert.js';
import type { Scheduler, Timer } from './scheduler.js';

export interface ExpirySchedulerOptions {
  readonly scheduler: Scheduler;
  /** The leader's time: its clock, never behind the state machine's time. */
  readonly now: () => number;
  /** Every lease, soonest deadline first. */
  readonly deadlines: () => Iterable<LeaseDeadline>;
  /** Proposes `expire` for the hold; false when the proposal was refused (e.g. overloaded). */
  readonly proposeExpire: (deadline: LeaseDeadline) => boolean;
}

export const expiryDefaults = {
  /** The most `expire` entries proposed per firing of the timer. */
  batchMax: 128,
  /** The most `expire` entries in flight at once. */
  inFlightMax: 1024,
  /** After a refused proposal, the timer tries again this much later. */
  retryDelayMs: 50,
  /** The timer re-checks at least this often, so that a clock step is noticed. */
  timerDelayMsMax: 60_000,
} as const;

export class ExpiryScheduler {
  readonly #options: ExpirySchedulerOptions;
  /** Tokens of the holds with an `expire` entry in flight. */
  readonly #inFlight = new Set<number>();
  #timer: Timer | undefined;
  #timerAtMs = Number.POSITIVE_INFINITY;
  /** After a refused proposal, no firing before this time (a refusal is not retried at once). */
  #backoffUntilMs = 0;
  #running = false;

  constructor(options: ExpirySchedulerOptions) {
    this.#options = options;
  }

  get running(): boolean {
    return this.#running;
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** The leader is ready (its lease extension applied): expiry starts. */
  start(): void {
    this.#running = true;
    this.rearm();
  }

  /** Leadership lost or the node stops: no more proposals; the ones in flight are forgotten. */
  stop(): void {
    this.#running = false;
    this.#cancelTimer();
    this.#inFlight.clear();
  }

  /** The `expire` entry for `token` applied or was dropped. */
  settled(token: number): void {
    this.#inFlight.delete(token);
    this.rearm();
  }

  /** Sets the timer for the soonest deadline without an entry in flight (after every apply). */
  rearm(): void {
    if (!this.#running || this.#inFlight.size >= expiryDefaults.inFlightMax) return;
    const next = this.#soonestNotInFlight();
    if (next === undefined) {
      this.#cancelTimer();
      return;
    }
    const atMs = Math.max(next.expiresAtMs, this.#backoffUntilMs);
    if (this.#timer !== undefined && this.#timerAtMs <= atMs) return;
    this.#setTimer(atMs - this.#options.now(), atMs);
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAtMs = Number.POSITIVE_INFINITY;
    if (!this.#running) return;
    const now = this.#options.now();
    let proposed = 0;
    let refused = false;
    for (const deadline of this.#options.deadlines()) {
      if (deadline.expiresAtMs > now) break;
      if (this.#inFlight.has(deadline.token)) continue;
      if (proposed >= expiryDefaults.batchMax) break;
      if (this.#inFlight.size >= expiryDefaults.inFlightMax) break;
      if (!this.#options.proposeExpire(deadline)) {
        refused = true;
        break;
      }
      this.#inFlight.add(deadline.token);
      proposed++;
    }
    if (refused) this.#backoffUntilMs = now + expiryDefaults.retryDelayMs;
    this.rearm();
  }

  /** Scans past the holds in flight only: at most inFlightMax + 1 steps. */
  #soonestNotInFlight(): LeaseDeadline | undefined {
    let steps = 0;
    for (const deadline of this.#options.deadlines()) {
      steps++;
      assert(steps <= this.#inFlight.size + 1, 'the deadline scan went past the holds in flight');
      if (!this.#inFlight.has(deadline.token)) return deadline;
    }
    return undefined;
  }

  #setTimer(delayMs: number, atMs: number): void {
    this.#cancelTimer();
    const boundedDelayMs = Math.min(Math.max(0, delayMs), expiryDefaults.timerDelayMsMax);
    this.#timerAtMs = atMs;
    this.#timer = this.#options.scheduler.after(boundedDelayMs, () => this.#fire());
  }

  #cancelTimer(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#timerAtMs = Number.POSITIVE_INFINITY;
  }
}
