/**
 * A fake wall clock and the scheduler that goes with it: time moves only when a test says so, and
 * timers due by then fire in order (deadline, then creation order), each seeing the clock at its
 * own deadline. Nothing sleeps.
 */
import type { Scheduler, Timer } from '../../src/node/scheduler.js';

interface FakeTimer {
  readonly atMs: number;
  readonly sequence: number;
  readonly callback: () => void;
  cancelled: boolean;
}

export class FakeTime implements Scheduler {
  #nowMs: number;
  #sequence = 0;
  #timers: FakeTimer[] = [];

  constructor(startMs = 1_700_000_000_000) {
    this.#nowMs = startMs;
  }

  /** The clock, as LockNode's `clock` option. */
  readonly clock = (): number => this.#nowMs;

  get nowMs(): number {
    return this.#nowMs;
  }

  /** Timers not yet fired nor cancelled. */
  get pendingTimers(): number {
    return this.#timers.filter((timer) => !timer.cancelled).length;
  }

  after(delayMs: number, callback: () => void): Timer {
    const timer: FakeTimer = {
      atMs: this.#nowMs + Math.max(0, delayMs),
      sequence: this.#sequence++,
      callback,
      cancelled: false,
    };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Moves the clock by `ms`, firing every timer due on the way (including ones they set). */
  advance(ms: number): void {
    const targetMs = this.#nowMs + ms;
    for (let fired = 0; fired < 1_000_000; fired++) {
      const next = this.#nextDue(targetMs);
      if (next === undefined) break;
      this.#timers = this.#timers.filter((timer) => timer !== next);
      this.#nowMs = Math.max(this.#nowMs, next.atMs);
      next.callback();
    }
    this.#nowMs = targetMs;
  }

  /** Moves the clock without firing anything: a timer that is late, or a clock that jumped. */
  jump(ms: number): void {
    this.#nowMs += ms;
  }

  #nextDue(targetMs: number): FakeTimer | undefined {
    this.#timers = this.#timers.filter((timer) => !timer.cancelled);
    let next: FakeTimer | undefined;
    for (const timer of this.#timers) {
      if (timer.atMs > targetMs) continue;
      if (
        next === undefined ||
        timer.atMs < next.atMs ||
        (timer.atMs === next.atMs && timer.sequence < next.sequence)
      ) {
        next = timer;
      }
    }
    return next;
  }
}
