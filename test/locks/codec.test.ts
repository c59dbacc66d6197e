// The command codec: exact bytes, round trips, and refusal of bytes that are not a command.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  commandKind,
  commandNameBytesMax,
  decodeCommand,
  encodeCommand,
  MalformedCommandError,
} from '../../src/locks/codec.js';
import type { LockCommand } from '../../src/locks/commands.js';
import { AssertionError } from '../../src/util/assert.js';

const seed = Number(process.env.LOCKD_TEST_SEED ?? 0xc0de);

describe('encodeCommand', () => {
  test('the layout is one kind byte and the name bytes', () => {
    assert.deepEqual(
      encodeCommand({ kind: 'acquire', name: 'foo' }),
      new Uint8Array([commandKind.acquire, 0x66, 0x6f, 0x6f]),
    );
    assert.deepEqual(
      encodeCommand({ kind: 'release', name: '$-._' }),
      new Uint8Array([commandKind.release, 0x24, 0x2d, 0x2e, 0x5f]),
    );
    assert.deepEqual(commandKind, { acquire: 1, release: 2 });
  });

  test('a name of 128 bytes fits', () => {
    const name = 'n'.repeat(commandNameBytesMax);
    assert.deepEqual(decodeCommand(encodeCommand({ kind: 'acquire', name })), {
      kind: 'acquire',
      name,
    });
  });

  test('names that the api never lets through are assertion failures', () => {
    for (const name of ['', 'n'.repeat(commandNameBytesMax + 1), 'caf\u00e9\u20ac']) {
      assert.throws(() => encodeCommand({ kind: 'acquire', name }), AssertionError, name);
    }
  });
});

describe(`codec properties (fast-check seed ${seed}; LOCKD_TEST_SEED replays)`, () => {
  const byteString = fc.string({
    unit: fc.integer({ min: 0, max: 0xff }).map((code) => String.fromCharCode(code)),
    minLength: 1,
    maxLength: commandNameBytesMax,
    size: 'max',
  });
  const commandArbitrary: fc.Arbitrary<LockCommand> = fc.oneof(
    byteString.map((name) => ({ kind: 'acquire', name }) as const),
    byteString.map((name) => ({ kind: 'release', name }) as const),
  );

  test('decode(encode(command)) is the command, for every one-byte-per-character name', () => {
    fc.assert(
      fc.property(commandArbitrary, (command) => {
        const bytes = encodeCommand(command);
        assert.equal(bytes.length, 1 + command.name.length);
        assert.deepEqual(decodeCommand(bytes), command);
      }),
      { seed, numRuns: 1000 },
    );
  });

  test('any bytes either decode to a command that encodes back to them, or are refused', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: commandNameBytesMax + 3, size: 'max' }), (bytes) => {
        let command: LockCommand;
        try {
          command = decodeCommand(bytes);
        } catch (error) {
          assert.ok(error instanceof MalformedCommandError, `unexpected error: ${error}`);
          return;
        }
        assert.deepEqual(encodeCommand(command), bytes);
      }),
      { seed, numRuns: 2000 },
    );
  });
});

describe('decodeCommand refuses bytes that are not a command', () => {
  const cases: { name: string; bytes: number[]; message: RegExp }[] = [
    { name: 'no bytes', bytes: [], message: /^malformed lock command: no bytes$/ },
    { name: 'kind 0', bytes: [0, 0x66], message: /unknown kind byte 0 \(2 bytes\)/ },
    { name: 'kind 3 (not yet defined)', bytes: [3, 0x66], message: /unknown kind byte 3/ },
    { name: 'kind 255', bytes: [255], message: /unknown kind byte 255 \(1 bytes\)/ },
    {
      name: 'acquire without a name',
      bytes: [1],
      message: /name of 0 bytes \(expected 1 to 128\)/,
    },
    { name: 'release without a name', bytes: [2], message: /name of 0 bytes/ },
    {
      name: 'a name of 129 bytes',
      bytes: [1, ...new Array<number>(129).fill(0x61)],
      message: /name of 129 bytes/,
    },
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
