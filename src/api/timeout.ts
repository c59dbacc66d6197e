import { LockdError } from '../errors.js';
import { assert } from '../util/assert.js';
import type { CancelSignal } from '../util/cancellation.js';

export function serviceTimeoutError(timeoutMs: number): LockdError {
  return new LockdError(
    'LOCKD_ERR_TIMEOUT',
    `Timed out after ${timeoutMs} ms waiting for the cluster; the change may still take effect`,
  );
}

/** Thrown by withTimeout when its `stop` signal fired: nobody is waiting for the answer any more. */
export class AnswerNotWantedError extends Error {
  override readonly name = 'AnswerNotWantedError';
}

/**
 * Races a service call against `timeoutMs`. On expiry the caller gets LOCKD_ERR_TIMEOUT while the
 * call itself goes on: a proposal cannot be taken back, so the change may still be applied.
 * The race keeps a handler on `operation`, so its late rejection is never an unhandled one.
 * When `stop` fires first (the client went away), AnswerNotWantedError ends the wait at once.
 */
export function withTimeout<T>(
  operation: Promise<T>,
  timeoutMs: number,
  stop?: CancelSignal,
): Promise<T> {
  assert(Number.isInteger(timeoutMs) && timeoutMs > 0, `bad timeout ${timeoutMs} ms`);
  // One promise settled by whichever comes first, rather than Promise.race over a second one:
  // this runs for every request, and the race costs two more promises and their reactions.
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      stop?.removeEventListener('abort', onStop);
      return true;
    };
    const onStop = (): void => {
      if (settle()) reject(new AnswerNotWantedError('the client went away'));
    };
    const timer = setTimeout(() => {
      if (settle()) reject(serviceTimeoutError(timeoutMs));
    }, timeoutMs);
    operation.then(
      (value) => {
        if (settle()) resolve(value);
      },
      (error: unknown) => {
        if (settle()) reject(error);
      },
    );
    if (stop?.aborted === true) onStop();
    else stop?.addEventListener('abort', onStop, { once: true });
  });
}
