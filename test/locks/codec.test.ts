// The command codec: exact bytes, round trips, legacy entries, and refusal of bytes that are not a
// command.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ByteReader, ByteWriter, MalformedBytesError } from '../../src/locks/bytes.js';
import {
  commandKind,
  commandNameBytesMax,
  decodeCommand,
  encodeCommand,
  MalformedCommandError,
  unlimited,
} from '../../src/locks/codec.js';
import type { LockCommand } from '../../src/locks/commands.js';
import { AssertionError } from '../../src/util/assert.js';
import {
  acquire,
  anyCommand,
  expire,
  extendLeases,
  forceRelease,
  handOff,
  refresh,
  release,
} from './builders.js';

const seed = Number(process.env.LOCKD_TEST_SEED ?? 0xc0de);

const bytesOf = (text: string): number[] => [...text].map((character) => character.charCodeAt(0));

describe('byte primitives', () => {
  test('uints are LEB128: 7 bits a byte, low bits first', () => {
    const cases: [number, number[]][] = [
      [0, [0]],
      [127, [0x7f]],
      [128, [0x80, 0x01]],
      [300, [0xac, 0x02]],
      [1_700_000_000_000, [0x80, 0xd0, 0x95, 0xff, 0xbc, 0x31]],
      [Number.MAX_SAFE_INTEGER, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]],
    ];
    for (const [value, bytes] of cases) {
      assert.deepEqual([...new ByteWriter().uint(value).finish()], bytes, `${value}`);
      const reader = new ByteReader(new Uint8Array(bytes));
      assert.equal(reader.uint(), value);
      reader.end();
    }
  });

  test('a uint with a redundant zero byte, beyond 2^53 - 1, too long or cut short is refused', () => {
    const cases: [number[], RegExp][] = [
      [[0x80, 0x00], /redundant zero byte/],
      [[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x10], /beyond 2\^53 - 1/],
      [[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], /longer than 8 bytes/],
      [[0x80], /truncated at byte 1/],
    ];
    for (const [bytes, message] of cases) {
      assert.throws(
        () => new ByteReader(new Uint8Array(bytes)).uint(),
        (error: unknown) => {
          assert.ok(error instanceof MalformedBytesError);
          assert.match(error.message, message);
          return true;
        },
      );
    }
  });

  test('optional uints store null as 0 and a value as value + 1', () => {
    const bytes = new ByteWriter().optionalUint(null).optionalUint(0).optionalUint(5).finish();
    assert.deepEqual([...bytes], [0, 1, 6]);
    const reader = new ByteReader(bytes);
    assert.deepEqual(
      [reader.optionalUint(), reader.optionalUint(), reader.optionalUint()],
      [null, 0, 5],
    );
    reader.end();
  });

  test('leftover bytes are refused by end()', () => {
    const reader = new ByteReader(new Uint8Array([1, 2]));
    reader.byte();
    assert.throws(() => reader.end(), /1 bytes left over after byte 1/);
  });
});

describe('encodeCommand: the exact layout of each kind', () => {
  const cases: { name: string; command: LockCommand; bytes: number[] }[] = [
    {
      name: 'acquire, anonymous, exclusive, no lease',
      command: acquire('foo', 300, { maxLocks: 5, maxHoldersPerLock: 2 }),
      bytes: [3, 0xac, 0x02, 3, ...bytesOf('foo'), 0, 0, 0, 0, 5, 2, 0],
    },
    {
      name: 'acquire, shared with owner, lease, limit and waiter',
      command: acquire('l', 1, {
        owner: 'ab',
        ttlMs: 10,
        mode: 'shared',
        limit: 3,
        maxLocks: 7,
        maxHoldersPerLock: 9,
        waiterId: 0,
      }),
      bytes: [3, 1, 1, ...bytesOf('l'), 2, ...bytesOf('ab'), 11, 1, 4, 7, 9, 1],
    },
    {
      name: 'release by owner and token with a hand-off',
      command: release('x', 2, {
        owner: 'o',
        token: 4,
        handOff: handOff(6, { owner: 'w', maxLocks: 1, maxHoldersPerLock: 1 }),
      }),
      bytes: [
        4,
        2,
        1,
        ...bytesOf('x'),
        1,
        ...bytesOf('o'),
        5,
        1,
        6,
        1,
        ...bytesOf('w'),
        0,
        0,
        0,
        1,
        1,
      ],
    },
    {
      name: 'release, anonymous, no token, no hand-off',
      command: release('x', 0),
      bytes: [4, 0, 1, ...bytesOf('x'), 0, 0, 0],
    },
    { name: 'force-release', command: forceRelease('x', 9), bytes: [5, 9, 1, ...bytesOf('x'), 0] },
    {
      name: 'refresh keeping the TTL',
      command: refresh('x', 9, 'me'),
      bytes: [6, 9, 1, ...bytesOf('x'), 2, ...bytesOf('me'), 0],
    },
    {
      name: 'expire',
      command: expire('x', 9, 200),
      bytes: [7, 9, 1, ...bytesOf('x'), 0xc8, 0x01, 0],
    },
    { name: 'extend-leases', command: extendLeases(129), bytes: [8, 0x81, 0x01] },
  ];
  for (const { name, command, bytes } of cases) {
    test(name, () => {
      assert.deepEqual([...encodeCommand(command)], bytes);
      assert.deepEqual(decodeCommand(new Uint8Array(bytes)), command);
    });
  }

  test('the kind bytes never change', () => {
    assert.deepEqual(commandKind, {
      legacyAcquire: 1,
      legacyRelease: 2,
      acquire: 3,
      release: 4,
      forceRelease: 5,
      refresh: 6,
      expire: 7,
      extendLeases: 8,
    });
  });

  test('a name of 128 bytes and bytes above 0x7f fit', () => {
    const name = '\u00ff'.repeat(commandNameBytesMax);
    const command = acquire(name, 1, { owner: '\u0080\u00e9' });
    assert.deepEqual(decodeCommand(encodeCommand(command)), command);
  });

  test('commands no valid request could produce are assertion failures', () => {
    const impossible: LockCommand[] = [
      acquire('', 1),
      acquire('n'.repeat(commandNameBytesMax + 1), 1),
      acquire('caf\u20ac', 1),
      acquire('x', 1, { mode: 'shared' }),
      acquire('x', 1, { limit: 2 }),
      acquire('x', 1, { ttlMs: 0 }),
      acquire('x', -1),
      acquire('x', 1.5),
      acquire('x', 1, { maxLocks: 0 }),
      acquire('x', 1, { owner: '' }),
      release('x', 1, { token: 0 }),
      refresh('x', 1, ''),
      expire('x', 1, 0),
      expire('x', 1, 1, handOff(1, { mode: 'shared' })),
    ];
    for (const command of impossible) {
      assert.throws(() => encodeCommand(command), AssertionError, JSON.stringify(command));
    }
  });
});

describe('legacy entries (kinds 1 and 2, written by earlier builds)', () => {
  test('kind 1 is the seed acquire: anonymous, exclusive, no lease, no limits, no stamp', () => {
    assert.deepEqual(decodeCommand(new Uint8Array([1, ...bytesOf('foo')])), {
      kind: 'acquire',
      nowMs: 0,
      name: 'foo',
      owner: null,
      ttlMs: null,
      mode: 'exclusive',
      limit: null,
      maxLocks: unlimited,
      maxHoldersPerLock: unlimited,
      waiterId: null,
    });
  });

  test('kind 2 is the seed release: anonymous', () => {
    assert.deepEqual(decodeCommand(new Uint8Array([2, ...bytesOf('$-._')])), release('$-._', 0));
  });

  test('legacy names must be 1 to 128 bytes', () => {
    assert.throws(() => decodeCommand(new Uint8Array([1])), /name of 0 bytes/);
    assert.throws(
      () => decodeCommand(new Uint8Array([2, ...new Array<number>(129).fill(0x61)])),
      /name of 129 bytes/,
    );
  });
});

describe(`codec properties (fast-check seed ${seed}; LOCKD_TEST_SEED replays)`, () => {
  test('decode(encode(command)) is the command, for every kind and field value', () => {
    fc.assert(
      fc.property(anyCommand(), (command) => {
        assert.deepEqual(decodeCommand(encodeCommand(command)), command);
      }),
      { seed, numRuns: 2000 },
    );
  });

  test('any bytes either decode to a command that encodes back to them, or are refused', () => {
    const commandBytes = anyCommand().map((command) => encodeCommand(command));
    // Valid encodings with one byte changed, cut or extended, and plain random bytes.
    const mutated = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      fc
        .tuple(commandBytes, fc.nat(), fc.integer({ min: 0, max: 255 }))
        .map(([bytes, at, value]) => {
          const copy = new Uint8Array(bytes);
          if (copy.length > 0) copy[at % copy.length] = value;
          return copy;
        }),
      fc
        .tuple(commandBytes, fc.nat())
        .map(([bytes, cut]) => bytes.subarray(0, cut % (bytes.length + 1))),
      fc
        .tuple(commandBytes, fc.uint8Array({ minLength: 1, maxLength: 3 }))
        .map(([bytes, extra]) => new Uint8Array([...bytes, ...extra])),
    );
    fc.assert(
      fc.property(mutated, (bytes) => {
        let command: LockCommand;
        try {
          command = decodeCommand(bytes);
        } catch (error) {
          assert.ok(error instanceof MalformedCommandError, `unexpected error: ${error}`);
          return;
        }
        if (bytes[0] === commandKind.legacyAcquire || bytes[0] === commandKind.legacyRelease) {
          assert.deepEqual(decodeCommand(encodeCommand(command)), command);
        } else {
          assert.deepEqual(encodeCommand(command), bytes);
        }
      }),
      { seed, numRuns: 5000 },
    );
  });
});

describe('decodeCommand refuses bytes that are not a command', () => {
  const valid = [...encodeCommand(acquire('f', 1))];
  const cases: { name: string; bytes: number[]; message: RegExp }[] = [
    { name: 'no bytes', bytes: [], message: /^malformed lock command: no bytes$/ },
    { name: 'kind 0', bytes: [0, 0x66], message: /unknown kind byte 0/ },
    { name: 'kind 9 (not yet defined)', bytes: [9, 0x66], message: /unknown kind byte 9/ },
    { name: 'kind 255', bytes: [255], message: /kind 255 \(1 bytes\): unknown kind byte 255/ },
    { name: 'a truncated acquire', bytes: valid.slice(0, -1), message: /truncated/ },
    { name: 'an acquire with a byte too many', bytes: [...valid, 0], message: /left over/ },
    { name: 'an empty name', bytes: [3, 1, 0], message: /name of 0 bytes/ },
    {
      name: 'mode byte 2',
      bytes: [3, 1, 1, 0x66, 0, 0, 2, 0, 1, 1, 0],
      message: /unknown mode byte 2/,
    },
    {
      name: 'a shared anonymous acquire',
      bytes: [3, 1, 1, 0x66, 0, 0, 1, 0, 1, 1, 0],
      message: /a shared grant without owner/,
    },
    {
      name: 'an exclusive acquire with a limit',
      bytes: [3, 1, 1, 0x66, 0, 0, 0, 3, 1, 1, 0],
      message: /an exclusive grant with limit/,
    },
    { name: 'a TTL of 0', bytes: [6, 1, 1, 0x66, 1, 0x6f, 1], message: /ttlMs 0/ },
    { name: 'maxLocks 0', bytes: [3, 1, 1, 0x66, 0, 0, 0, 0, 0, 1, 0], message: /maxLocks 0/ },
    { name: 'a refresh without owner', bytes: [6, 1, 1, 0x66, 0, 0], message: /owner of 0 bytes/ },
    { name: 'expire of token 0', bytes: [7, 1, 1, 0x66, 0, 0], message: /token 0/ },
    { name: 'hand-off marker 2', bytes: [5, 1, 1, 0x66, 2], message: /hand-off marker 2/ },
  ];
  for (const { name, bytes, message } of cases) {
    test(name, () => {
      assert.throws(
        () => decodeCommand(new Uint8Array(bytes)),
        (error: unknown) => {
          assert.ok(
            error instanceof MalformedCommandError,
            `expected MalformedCommandError: ${error}`,
          );
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }
});
