// Random logs through the lock state machine: replay determinism (directly, through the codec,
// and from a snapshot taken anywhere), invariants after every entry, and the safety rules that
// must hold for any history: tokens are the granting index and increase; an expired lease is never
// renewed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ByteWriter } from '../../src/locks/bytes.js';
import { decodeCommand, encodeCommand } from '../../src/locks/codec.js';
import type { Applied, LockCommand } from '../../src/locks/commands.js';
import { MalformedSnapshotError } from '../../src/locks/snapshot.js';
import { LockStateMachine } from '../../src/locks/state-machine.js';
import { acquire, release } from './builders.js';

const seed = Number(process.env.LOCKD_TEST_SEED ?? 0x7e57);

type LogItem = LockCommand | { readonly kind: 'noop' };

const names = ['a', 'b', 'c'];
const owners = ['p', 'q', 'r'];

/** Commands over few names and owners, with times that mostly move forward by small steps. */
const itemArbitrary: fc.Arbitrary<LogItem> = fc.oneof(
  { weight: 12, arbitrary: fcCommand() },
  { weight: 1, arbitrary: fc.constant({ kind: 'noop' } as const) },
);

function fcCommand(): fc.Arbitrary<LockCommand> {
  const name = fc.constantFrom(...names);
  const owner = fc.constantFrom(...owners);
  const time = fc.integer({ min: 0, max: 400 });
  const ttl = fc.option(fc.integer({ min: 1, max: 120 }), { nil: null });
  const grant = fc.record({
    owner: fc.option(owner, { nil: null }),
    ttlMs: ttl,
    shared: fc.boolean(),
    limit: fc.option(fc.integer({ min: 1, max: 3 }), { nil: null }),
    maxLocks: fc.integer({ min: 1, max: 3 }),
    maxHoldersPerLock: fc.integer({ min: 1, max: 3 }),
  });
  const shaped = grant.map(({ shared, ...rest }) => {
    const isShared = shared && rest.owner !== null;
    return {
      ...rest,
      owner: rest.owner,
      mode: isShared ? ('shared' as const) : ('exclusive' as const),
      limit: isShared ? rest.limit : null,
    };
  });
  const maybeHandOff = fc.option(
    shaped.map((request) => ({ waiterId: 1, ...request })),
    { nil: null },
  );
  return fc.oneof(
    {
      weight: 5,
      arbitrary: fc.tuple(time, name, shaped).map(([nowMs, n, r]) => ({
        kind: 'acquire' as const,
        nowMs,
        name: n,
        ...r,
        waiterId: null,
      })),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(
          time,
          name,
          fc.option(owner, { nil: null }),
          fc.option(fc.integer({ min: 1, max: 60 }), { nil: null }),
          maybeHandOff,
        )
        .map(([nowMs, n, o, token, h]) => release(n, nowMs, { owner: o, token, handOff: h })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(time, name, maybeHandOff)
        .map(([nowMs, n, h]) => ({ kind: 'force-release' as const, nowMs, name: n, handOff: h })),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(time, name, owner, ttl).map(([nowMs, n, o, t]) => ({
        kind: 'refresh' as const,
        nowMs,
        name: n,
        owner: o,
        ttlMs: t,
      })),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(time, name, fc.integer({ min: 1, max: 60 }), maybeHandOff)
        .map(([nowMs, n, token, h]) => ({
          kind: 'expire' as const,
          nowMs,
          name: n,
          token,
          handOff: h,
        })),
    },
    { weight: 1, arbitrary: time.map((nowMs) => ({ kind: 'extend-leases' as const, nowMs })) },
  );
}

const logArbitrary = fc.array(itemArbitrary, { maxLength: 120, size: 'max' });

interface Run {
  readonly applied: (Applied | 'noop')[];
  readonly snapshot: Uint8Array;
}

function replay(log: readonly LogItem[], from = new LockStateMachine(), throughCodec = false): Run {
  const machine = from;
  const applied: (Applied | 'noop')[] = [];
  for (const item of log) {
    const index = machine.appliedIndex + 1;
    if (item.kind === 'noop') {
      machine.applyNoop(index);
      applied.push('noop');
      continue;
    }
    const command = throughCodec ? decodeCommand(encodeCommand(item)) : item;
    applied.push(machine.apply(index, command));
  }
  return { applied, snapshot: machine.snapshot() };
}

describe(`LockStateMachine on random logs (fast-check seed ${seed}; LOCKD_TEST_SEED replays)`, () => {
  test('the same log gives the same results, events and snapshot bytes, through the codec too', () => {
    fc.assert(
      fc.property(logArbitrary, (log) => {
        const first = replay(log);
        assert.deepEqual(replay(log), first);
        assert.deepEqual(replay(log, new LockStateMachine(), true), first);
      }),
      { seed, numRuns: 300 },
    );
  });

  test('a snapshot taken after any entry, restored, continues exactly as the original', () => {
    fc.assert(
      fc.property(logArbitrary, fc.nat(), (log, cutAt) => {
        const cut = cutAt % (log.length + 1);
        const straight = replay(log);
        const head = new LockStateMachine();
        replay(log.slice(0, cut), head);
        const bytes = head.snapshot();
        const restored = LockStateMachine.restore(bytes);
        restored.assertInvariants();
        assert.deepEqual(restored.snapshot(), bytes);
        const tail = replay(log.slice(cut), restored);
        assert.deepEqual(tail.applied, straight.applied.slice(cut));
        assert.deepEqual(tail.snapshot, straight.snapshot);
      }),
      { seed, numRuns: 200 },
    );
  });

  test('invariants hold after every entry; tokens are the granting index; no expired renewal', () => {
    fc.assert(
      fc.property(logArbitrary, (log) => {
        const machine = new LockStateMachine();
        let lastGrant = 0;
        for (const item of log) {
          const index = machine.appliedIndex + 1;
          if (item.kind === 'noop') {
            machine.applyNoop(index);
            continue;
          }
          const time = Math.max(machine.timeMs, item.nowMs);
          const liveBefore =
            item.kind === 'extend-leases' ? undefined : machine.live(item.name, time);
          const { result, events } = machine.apply(index, item);
          machine.assertInvariants();
          const grants = events.filter((event) => event.type === 'grant');
          assert.ok(grants.length <= 1, 'an entry grants at most once');
          for (const grant of grants) {
            assert.equal(grant.token, index);
            assert.ok(grant.token > lastGrant);
            lastGrant = grant.token;
          }
          // A renewal or refresh only ever extends a hold that was live at the command's time.
          if ((result.outcome === 'acquired' && result.renewed) || result.outcome === 'refreshed') {
            const held = liveBefore?.holders.some((hold) => hold.token === result.hold.token);
            assert.ok(held, `renewed token ${result.hold.token}, which was not live at ${time}`);
          }
          assert.ok(events.every((event, n) => event.index === index && event.n === n));
        }
      }),
      { seed, numRuns: 300 },
    );
  });
});

describe('snapshots', () => {
  test('an empty machine round-trips to the same bytes', () => {
    const bytes = new LockStateMachine().snapshot();
    assert.deepEqual([...bytes], [2, 0, 0, 0, 0]);
    assert.deepEqual(LockStateMachine.restore(bytes).snapshot(), bytes);
  });

  test('whether a hold was renewed survives a snapshot; holds of a version 1 snapshot read as renewed', () => {
    const machine = new LockStateMachine();
    machine.apply(1, acquire('fresh', 1_000, { owner: 'a' }));
    machine.apply(2, acquire('again', 1_000, { owner: 'a' }));
    machine.apply(3, acquire('again', 1_001, { owner: 'a' }));
    const restored = LockStateMachine.restore(machine.snapshot());
    assert.deepEqual(
      ['fresh', 'again'].map((name) => restored.get(name)?.holders[0]?.renewed),
      [false, true],
    );
    const versionOne = new ByteWriter()
      .byte(1)
      .uint(1)
      .uint(1_000)
      .uint(1)
      .uint(1)
      .byteString('old')
      .byte(0)
      .optionalUint(null)
      .uint(1)
      .byteString('a')
      .uint(1)
      .uint(1_000)
      .optionalUint(null)
      .optionalUint(null)
      .finish();
    assert.equal(LockStateMachine.restore(versionOne).get('old')?.holders[0]?.renewed, true);
  });

  test('the restored machine answers as the original: holds, leases, names, time', () => {
    const machine = new LockStateMachine();
    machine.apply(1, acquire('x', 1_000, { owner: 'a', ttlMs: 50 }));
    machine.apply(2, acquire('s', 1_010, { owner: 'a', mode: 'shared', limit: 3 }));
    machine.apply(3, acquire('s', 1_020, { owner: 'b', mode: 'shared', ttlMs: 9 }));
    machine.applyNoop(4);
    const restored = LockStateMachine.restore(machine.snapshot());
    assert.equal(restored.appliedIndex, 4);
    assert.equal(restored.timeMs, 1_020);
    assert.equal(restored.size, 2);
    assert.deepEqual(restored.get('s'), machine.get('s'));
    assert.deepEqual([...restored.names('', false)], ['s', 'x']);
    assert.deepEqual([...restored.deadlines()], [...machine.deadlines()]);
    // Time, leases and tokens carry on: x's lease runs out at 1 050; the next grant's token is its index.
    assert.equal(restored.apply(5, acquire('x', 1_049, { owner: 'c' })).result.outcome, 'conflict');
    assert.deepEqual(restored.apply(6, acquire('x', 1_050, { owner: 'c' })).result, {
      outcome: 'acquired',
      hold: {
        owner: 'c',
        token: 6,
        acquiredAtMs: 1_050,
        ttlMs: null,
        expiresAtMs: null,
        renewed: false,
      },
      mode: 'exclusive',
      renewed: false,
    });
  });

  const header = (appliedIndex: number, lastGrant: number, locks: number) =>
    new ByteWriter().byte(1).uint(appliedIndex).uint(0).uint(lastGrant).uint(locks);
  const cases: { name: string; bytes: Uint8Array; message: RegExp }[] = [
    { name: 'no bytes', bytes: new Uint8Array(), message: /truncated/ },
    {
      name: 'version 3',
      bytes: new Uint8Array([3, 0, 0, 0, 0]),
      message: /unknown snapshot version 3/,
    },
    {
      name: 'a renewed byte other than 0 or 1',
      bytes: new ByteWriter()
        .byte(2)
        .uint(1)
        .uint(0)
        .uint(1)
        .uint(1)
        .byteString('a')
        .byte(0)
        .optionalUint(null)
        .uint(1)
        .byteString('o')
        .uint(1)
        .uint(0)
        .optionalUint(null)
        .optionalUint(null)
        .byte(2)
        .finish(),
      message: /lock a: renewed byte 2/,
    },
    { name: 'trailing bytes', bytes: new Uint8Array([1, 0, 0, 0, 0, 0]), message: /left over/ },
    {
      name: 'a grant after the applied index',
      bytes: header(1, 2, 0).finish(),
      message: /last grant 2 after 1/,
    },
    {
      name: 'names out of order',
      bytes: header(2, 2, 2)
        .byteString('b')
        .byte(0)
        .optionalUint(null)
        .uint(1)
        .byteString('')
        .uint(1)
        .uint(0)
        .optionalUint(null)
        .optionalUint(null)
        .byteString('a')
        .byte(0)
        .optionalUint(null)
        .uint(1)
        .byteString('')
        .uint(2)
        .uint(0)
        .optionalUint(null)
        .optionalUint(null)
        .finish(),
      message: /lock a out of order/,
    },
    {
      name: 'a token held twice',
      bytes: header(2, 2, 2)
        .byteString('a')
        .byte(0)
        .optionalUint(null)
        .uint(1)
        .byteString('')
        .uint(1)
        .uint(0)
        .optionalUint(null)
        .optionalUint(null)
        .byteString('b')
        .byte(0)
        .optionalUint(null)
        .uint(1)
        .byteString('')
        .uint(1)
        .uint(0)
        .optionalUint(null)
        .optionalUint(null)
        .finish(),
      message: /token 1 held twice/,
    },
    {
      name: 'an exclusive lock with two holders',
      bytes: header(2, 2, 1).byteString('a').byte(0).optionalUint(null).uint(2).finish(),
      message: /2 holders in exclusive mode/,
    },
    {
      name: 'a lease without a deadline',
      bytes: header(1, 1, 1)
        .byteString('a')
        .byte(0)
        .optionalUint(null)
        .uint(1)
        .byteString('o')
        .uint(1)
        .uint(0)
        .optionalUint(5)
        .optionalUint(null)
        .finish(),
      message: /ttlMs 5 with expiresAtMs null/,
    },
    {
      name: 'an anonymous shared holder',
      bytes: header(1, 1, 1)
        .byteString('a')
        .byte(1)
        .optionalUint(null)
        .uint(1)
        .byteString('')
        .uint(1)
        .uint(0)
        .optionalUint(null)
        .optionalUint(null)
        .finish(),
      message: /anonymous shared holder/,
    },
  ];
  for (const { name, bytes, message } of cases) {
    test(`restore refuses ${name}`, () => {
      assert.throws(
        () => LockStateMachine.restore(bytes),
        (error: unknown) => {
          assert.ok(
            error instanceof MalformedSnapshotError,
            `expected MalformedSnapshotError: ${error}`,
          );
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }
});
