import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AnswerNotWantedError, withTimeout } from '../../src/api/timeout.js';
import { LockdError } from '../../src/errors.js';

const never = new Promise<never>(() => {});

describe('withTimeout', () => {
  test('the answer, when it comes first', async () => {
    assert.equal(await withTimeout(Promise.resolve(7), 1_000, new AbortController().signal), 7);
  });

  test('LOCKD_ERR_TIMEOUT when the time runs out', async () => {
    await assert.rejects(withTimeout(never, 20), (error: unknown) => {
      assert.ok(error instanceof LockdError);
      assert.equal(error.code, 'LOCKD_ERR_TIMEOUT');
      return true;
    });
  });

  test('AnswerNotWantedError as soon as the stop signal fires, or at once if it had', async () => {
    const controller = new AbortController();
    const waiting = withTimeout(never, 60_000, controller.signal);
    controller.abort();
    await assert.rejects(waiting, AnswerNotWantedError);
    await assert.rejects(withTimeout(never, 60_000, controller.signal), AnswerNotWantedError);
  });
});
