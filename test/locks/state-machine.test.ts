// The lock state machine: the exact result of every command in every state, tokens equal to the
// granting index, replay determinism, and the apply-once-in-order assertion.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { decodeCommand, encodeCommand } from '../../src/locks/codec.js';
import type { CommandResult, LockCommand } from '../../src/locks/commands.js';
import { LockStateMachine } from '../../src/locks/state-machine.js';
import { AssertionError } from '../../src/util/assert.js';

const acquire = (name: string): LockCommand => ({ kind: 'acquire', name });
const release = (name: string): LockCommand => ({ kind: 'release', name });

/** A machine that has applied `commands` at indexes 1, 2, 3... */
function machineAfter(...commands: LockCommand[]): LockStateMachine {
  const machine = new LockStateMachine();
  for (const command of commands) machine.apply(machine.appliedIndex + 1, command);
  return machine;
}

describe('LockStateMachine: every command in every state', () => {
  test('a new machine has applied nothing and holds nothing', () => {
    const machine = new LockStateMachine();
    assert.equal(machine.appliedIndex, 0);
    assert.equal(machine.size, 0);
    assert.equal(machine.isLocked('foo'), false);
    assert.equal(machine.get('foo'), undefined);
  });

  test('acquire of a free name grants it, with the entry index as token', () => {
    const machine = new LockStateMachine();
    assert.deepEqual(machine.apply(1, acquire('foo')), { outcome: 'acquired', token: 1 });
    assert.equal(machine.isLocked('foo'), true);
    assert.deepEqual(machine.get('foo'), { token: 1 });
    assert.equal(machine.size, 1);
    assert.equal(machine.appliedIndex, 1);
  });

  test('acquire of a held name conflicts and leaves the holder and its token', () => {
    const machine = machineAfter(acquire('foo'));
    assert.deepEqual(machine.apply(2, acquire('foo')), { outcome: 'conflict' });
    assert.deepEqual(machine.get('foo'), { token: 1 });
    assert.equal(machine.size, 1);
    assert.equal(machine.appliedIndex, 2);
  });

  test('release of a held name frees it', () => {
    const machine = machineAfter(acquire('foo'));
    assert.deepEqual(machine.apply(2, release('foo')), { outcome: 'released' });
    assert.equal(machine.isLocked('foo'), false);
    assert.equal(machine.get('foo'), undefined);
    assert.equal(machine.size, 0);
    assert.equal(machine.appliedIndex, 2);
  });

  test('release of a free name is not-locked, whether it was never held or already released', () => {
    const machine = new LockStateMachine();
    assert.deepEqual(machine.apply(1, release('foo')), { outcome: 'not-locked' });
    assert.deepEqual(machine.apply(2, acquire('foo')), { outcome: 'acquired', token: 2 });
    assert.deepEqual(machine.apply(3, release('foo')), { outcome: 'released' });
    assert.deepEqual(machine.apply(4, release('foo')), { outcome: 'not-locked' });
    assert.equal(machine.size, 0);
    assert.equal(machine.appliedIndex, 4);
  });

  test('a name acquired again after a release gets the new, higher token', () => {
    const machine = machineAfter(acquire('foo'), release('foo'));
    assert.deepEqual(machine.apply(3, acquire('foo')), { outcome: 'acquired', token: 3 });
    assert.deepEqual(machine.get('foo'), { token: 3 });
  });

  test('names are independent, and exact: no case folding or trimming', () => {
    const machine = machineAfter(acquire('foo'));
    assert.deepEqual(machine.apply(2, acquire('Foo')), { outcome: 'acquired', token: 2 });
    assert.deepEqual(machine.apply(3, acquire('foo.')), { outcome: 'acquired', token: 3 });
    assert.deepEqual(machine.apply(4, release('bar')), { outcome: 'not-locked' });
    assert.equal(machine.size, 3);
    assert.deepEqual(machine.get('foo'), { token: 1 });
  });

  test('a noop advances the applied index and changes nothing else; tokens skip it', () => {
    const machine = machineAfter(acquire('foo'));
    machine.applyNoop(2);
    assert.equal(machine.appliedIndex, 2);
    assert.equal(machine.size, 1);
    assert.deepEqual(machine.get('foo'), { token: 1 });
    assert.deepEqual(machine.apply(3, acquire('bar')), { outcome: 'acquired', token: 3 });
  });
});

describe('LockStateMachine: entries apply exactly once, in order', () => {
  const cases: { name: string; run(machine: LockStateMachine): void; message: RegExp }[] = [
    { name: 'a gap', run: (m) => m.apply(3, acquire('x')), message: /entry 3 .* after entry 1/ },
    { name: 'a repeat', run: (m) => m.apply(1, acquire('x')), message: /entry 1 .* after entry 1/ },
    { name: 'going back', run: (m) => m.apply(0, release('foo')), message: /entry 0 / },
    { name: 'a noop gap', run: (m) => m.applyNoop(5), message: /entry 5 .* after entry 1/ },
    { name: 'a noop repeat', run: (m) => m.applyNoop(1), message: /entry 1 .* after entry 1/ },
  ];
  for (const { name, run, message } of cases) {
    test(`${name} is an assertion failure and changes nothing`, () => {
      const machine = machineAfter(acquire('foo'));
      assert.throws(
        () => run(machine),
        (error: unknown) => {
          assert.ok(error instanceof AssertionError, `expected AssertionError: ${error}`);
          assert.match(error.message, message);
          return true;
        },
      );
      assert.equal(machine.appliedIndex, 1);
      assert.equal(machine.size, 1);
      assert.deepEqual(machine.get('foo'), { token: 1 });
      assert.equal(machine.isLocked('x'), false);
    });
  }
});

// A log of commands over a few names (so that conflicts and releases of held locks are common),
// with leader no-ops mixed in.
type LogItem = LockCommand | { readonly kind: 'noop' };
const names = ['a', 'b', 'c', 'lock-1', 'LOCK_1'];
const logItemArbitrary: fc.Arbitrary<LogItem> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...names).map(acquire) },
  { weight: 3, arbitrary: fc.constantFrom(...names).map(release) },
  { weight: 1, arbitrary: fc.constant({ kind: 'noop' } as const) },
);
// size 'max': lengths spread over the whole range, not only the short logs fast-check prefers.
const logArbitrary = fc.array(logItemArbitrary, { maxLength: 200, size: 'max' });

interface Run {
  readonly results: (CommandResult | 'noop')[];
  readonly appliedIndex: number;
  readonly size: number;
  readonly locks: [string, number | undefined][];
}

/** Applies `log` from scratch; `throughCodec` sends each command through its bytes first. */
function replay(log: readonly LogItem[], throughCodec: boolean): Run {
  const machine = new LockStateMachine();
  const results: (CommandResult | 'noop')[] = [];
  for (const [position, item] of log.entries()) {
    const index = position + 1;
    if (item.kind === 'noop') {
      machine.applyNoop(index);
      results.push('noop');
    } else {
      const command = throughCodec ? decodeCommand(encodeCommand(item)) : item;
      results.push(machine.apply(index, command));
    }
  }
  return {
    results,
    appliedIndex: machine.appliedIndex,
    size: machine.size,
    locks: names.map((name) => [name, machine.get(name)?.token]),
  };
}

/** The naive model: a map from name to the index that granted it. */
function model(log: readonly LogItem[]): Run {
  const held = new Map<string, number>();
  const results: (CommandResult | 'noop')[] = log.map((item, position) => {
    if (item.kind === 'noop') return 'noop';
    if (item.kind === 'release') {
      return held.delete(item.name) ? { outcome: 'released' } : { outcome: 'not-locked' };
    }
    if (held.has(item.name)) return { outcome: 'conflict' };
    held.set(item.name, position + 1);
    return { outcome: 'acquired', token: position + 1 };
  });
  return {
    results,
    appliedIndex: log.length,
    size: held.size,
    locks: names.map((name) => [name, held.get(name)]),
  };
}

const seed = Number(process.env.LOCKD_TEST_SEED ?? 0x5eed);

describe(`LockStateMachine: replay (fast-check seed ${seed}; LOCKD_TEST_SEED replays)`, () => {
  test('the same log applied twice from scratch gives identical results and state', () => {
    fc.assert(
      fc.property(logArbitrary, (log) => {
        const first = replay(log, false);
        assert.deepEqual(replay(log, true), first);
        assert.deepEqual(replay(log, false), first);
      }),
      { seed, numRuns: 300 },
    );
  });

  test('results and state match a naive model; every token is the granting index', () => {
    fc.assert(
      fc.property(logArbitrary, (log) => {
        assert.deepEqual(replay(log, false), model(log));
      }),
      { seed, numRuns: 300 },
    );
  });
});
