import { LockdError } from '../errors.js';
import { assert } from '../util/assert.js';

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
export async function withTimeout<T>(
  operation: Promise<T>,
  timeoutMs: number,
  stop?: AbortSignal,
): Promise<T> {
  assert(Number.isInteger(timeoutMs) && timeoutMs > 0, `bad timeout ${timeoutMs} ms`);
  let timer: NodeJS.Timeout | undefined;
  let onStop: (() => void) | undefined;
  const expiry = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(serviceTimeoutError(timeoutMs)), timeoutMs);
    onStop = () => reject(new AnswerNotWantedError('the client went away'));
    if (stop?.aborted === true) onStop();
    else stop?.addEventListener('abort', onStop, { once: true });
  });
  try {
    return await Promise.race([operation, expiry]);
  } finally {
    clearTimeout(timer);
    if (onStop !== undefined) stop?.removeEventListener('abort', onStop);
  }
}
