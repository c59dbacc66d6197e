/**
 * The node's timers, behind an interface so that tests drive time by hand (a fake clock and a
 * fake scheduler advance together) instead of sleeping.
 */

export interface Timer {
  /** Idempotent; a cancelled timer never fires. */
  cancel(): void;
}

export interface Scheduler {
  /** Runs `callback` once, about `delayMs` from now (0 = on a later turn of the event loop). */
  after(delayMs: number, callback: () => void): Timer;
}

/** setTimeout refuses delays above 2^31 - 1 ms; longer waits are cut and the caller re-arms. */
export const timerDelayMsMax = 2 ** 31 - 1;

export const systemScheduler: Scheduler = {
  after(delayMs, callback) {
    const handle = setTimeout(callback, Math.min(Math.max(0, delayMs), timerDelayMsMax));
    return { cancel: () => clearTimeout(handle) };
  },
};
