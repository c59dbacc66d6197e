import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Cancellation } from '../../src/util/cancellation.js';

describe('Cancellation', () => {
  test('abort runs each listener once, in the order added, and later aborts do nothing', () => {
    const cancellation = new Cancellation();
    const calls: string[] = [];
    cancellation.addEventListener('abort', () => calls.push('first'));
    cancellation.addEventListener('abort', () => calls.push('second'));
    assert.equal(cancellation.aborted, false);
    cancellation.abort();
    cancellation.abort();
    assert.equal(cancellation.aborted, true);
    assert.deepEqual(calls, ['first', 'second']);
  });

  test('a removed listener is not called; removing an unknown one is harmless', () => {
    const cancellation = new Cancellation();
    const calls: string[] = [];
    const removed = (): void => {
      calls.push('removed');
    };
    cancellation.addEventListener('abort', removed);
    cancellation.addEventListener('abort', () => calls.push('kept'));
    cancellation.removeEventListener('abort', removed);
    cancellation.removeEventListener('abort', () => undefined);
    cancellation.abort();
    assert.deepEqual(calls, ['kept']);
  });

  test('a listener added after the abort is never called, as with AbortSignal', () => {
    const cancellation = new Cancellation();
    cancellation.abort();
    let called = false;
    cancellation.addEventListener('abort', () => {
      called = true;
    });
    cancellation.abort();
    assert.equal(called, false);
  });

  test('the listeners of one signal are bounded', () => {
    const cancellation = new Cancellation();
    for (let count = 0; count < 16; count++)
      cancellation.addEventListener('abort', () => undefined);
    assert.throws(
      () => cancellation.addEventListener('abort', () => undefined),
      /has 16 listeners already/,
    );
  });

  test('its signal is accepted where an AbortSignal is (the same three members)', () => {
    const cancellation = new Cancellation();
    assert.equal(cancellation.signal, cancellation);
    const native = new AbortController();
    const signals = [cancellation.signal, native.signal];
    const fired: number[] = [];
    for (const [position, signal] of signals.entries()) {
      signal.addEventListener('abort', () => fired.push(position), { once: true });
    }
    cancellation.abort();
    native.abort();
    assert.deepEqual(fired, [0, 1]);
  });
});
