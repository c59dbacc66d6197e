/**
 * Requests that wait for the cluster to get somewhere: a leader to be elected, a learner to catch
 * up, a membership change to be allowed. Each condition is checked again after every ready batch
 * and every tick (the only events that change what it looks at), never by a poll of its own, and
 * each wait has a deadline.
 */
import { LockdError } from '../errors.js';
import type { Scheduler, Timer } from './scheduler.js';

/** Undefined while the condition does not hold; a value once it does. It may throw to give up. */
export type Condition<T> = () => T | undefined;

interface Waiter {
  /** Returns true once the waiter is settled. */
  check(): boolean;
  fail(error: LockdError): void;
}

export const conditionWaitersMax = 10_000;

export class ConditionWaiters {
  readonly #scheduler: Scheduler;
  readonly #waiters = new Set<Waiter>();

  constructor(scheduler: Scheduler) {
    this.#scheduler = scheduler;
  }

  get size(): number {
    return this.#waiters.size;
  }

  /**
   * Resolves with the condition's value once it holds (perhaps at once); rejects with what it
   * throws, or with `onTimeout()` when it still does not hold after `timeoutMs`.
   */
  until<T>(condition: Condition<T>, timeoutMs: number, onTimeout: () => LockdError): Promise<T> {
    const now = condition();
    if (now !== undefined) return Promise.resolve(now);
    if (this.#waiters.size >= conditionWaitersMax) {
      return Promise.reject(
        new LockdError('LOCKD_ERR_OVERLOADED', 'Too many requests wait for the cluster; retry'),
      );
    }
    return new Promise<T>((resolve, reject) => {
      let timer: Timer | undefined;
      const waiter: Waiter = {
        check: () => {
          let value: T | undefined;
          try {
            value = condition();
          } catch (error) {
            settle();
            reject(error);
            return true;
          }
          if (value === undefined) return false;
          settle();
          resolve(value);
          return true;
        },
        fail: (error) => {
          settle();
          reject(error);
        },
      };
      const settle = (): void => {
        timer?.cancel();
        this.#waiters.delete(waiter);
      };
      timer = this.#scheduler.after(timeoutMs, () => waiter.fail(onTimeout()));
      this.#waiters.add(waiter);
    });
  }

  /** Checks every waiting condition (after a ready batch or a tick). */
  check(): void {
    for (const waiter of [...this.#waiters]) waiter.check();
  }

  failAll(error: LockdError): void {
    for (const waiter of [...this.#waiters]) waiter.fail(error);
  }
}
