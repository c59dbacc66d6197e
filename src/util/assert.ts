/**
 * Invariant checks. A failed assertion is a bug in lockd, never a user error: it throws an
 * AssertionError so that tests crash loudly and a production node stops rather than diverge.
 */
export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function assertNever(value: never, message = 'unexpected value'): never {
  throw new AssertionError(`${message}: ${JSON.stringify(value)}`);
}
