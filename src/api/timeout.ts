import { LockdError } from '../errors.js';
import { assert } from '../util/assert.js';

export function serviceTimeoutError(timeoutMs: number): LockdError {
  return new LockdError(
    'LOCKD_ERR_TIMEOUT',
    `Timed out after ${timeoutMs} ms waiting for the cluster; the change may still take effect`,
  );
}

/**
 * Races a service call against `timeoutMs`. On expiry the caller gets LOCKD_ERR_TIMEOUT while the
 * call itself goes on: a proposal cannot be taken back, so the change may still be applied.
 * The race keeps a handler on `operation`, so its late rejection is never an unhandled one.
 */
export async function withTimeout<T>(operation: Promise<T>, timeoutMs: number): Promise<T> {
  assert(Number.isInteger(timeoutMs) && timeoutMs > 0, `bad timeout ${timeoutMs} ms`);
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(serviceTimeoutError(timeoutMs)), timeoutMs);
  });
  try {
    return await Promise.race([operation, expiry]);
  } finally {
    clearTimeout(timer);
  }
}
