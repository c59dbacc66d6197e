import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  decodePercentEncoding,
  invalidPercentEncodingMessage,
  lockNameProblem,
  maxLockNameBytes,
  parseLockName,
} from '../../src/api/names.js';

// Written out from the contract, independently of the implementation's table.
const allowedCharacters = '$-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';

function bytesOf(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'latin1'));
}

function hex(byte: number): string {
  return byte.toString(16).toUpperCase().padStart(2, '0');
}

function invalid(message: string): ReturnType<typeof parseLockName> {
  return { kind: 'invalid', message };
}

function badByte(byte: number, offset: number): ReturnType<typeof parseLockName> {
  return invalid(`Name contains non-printable/non-ascii byte ${byte} at offset ${offset}`);
}

describe('decodePercentEncoding', () => {
  test('decodes escapes of either case to raw bytes, not UTF-8 text', () => {
    assert.deepEqual(decodePercentEncoding('a%20b'), bytesOf('a b'));
    assert.deepEqual(decodePercentEncoding('%BD'), new Uint8Array([189]));
    assert.deepEqual(decodePercentEncoding('%bd'), new Uint8Array([189]));
    assert.deepEqual(decodePercentEncoding('%E6%97%A5'), new Uint8Array([230, 151, 165]));
    assert.deepEqual(decodePercentEncoding('%00%FF'), new Uint8Array([0, 255]));
    assert.deepEqual(decodePercentEncoding(''), new Uint8Array([]));
  });

  test('leaves + as + and decodes %2B to +', () => {
    assert.deepEqual(decodePercentEncoding('a+b'), bytesOf('a+b'));
    assert.deepEqual(decodePercentEncoding('a%2Bb'), bytesOf('a+b'));
  });

  test('decodes once: %2541 is "%41", not "A"', () => {
    assert.deepEqual(decodePercentEncoding('%2541'), bytesOf('%41'));
  });

  test('refuses a % not followed by two hex digits', () => {
    for (const text of ['%', '%G1', '%4', 'a%', 'a%4', '%%41', '%1G', '% 1', 'abc%zz', '%-1']) {
      assert.equal(decodePercentEncoding(text), undefined, text);
    }
  });

  test('takes characters outside ASCII as their UTF-8 bytes', () => {
    assert.deepEqual(decodePercentEncoding('\u65e5'), new Uint8Array([230, 151, 165]));
  });
});

describe('lockNameProblem', () => {
  test('an empty name', () => {
    assert.equal(lockNameProblem(new Uint8Array([])), 'Name is empty string');
  });

  test('128 bytes is the longest valid name, 129 is too long', () => {
    assert.equal(maxLockNameBytes, 128);
    assert.equal(lockNameProblem(bytesOf('a'.repeat(128))), undefined);
    assert.equal(
      lockNameProblem(bytesOf('a'.repeat(129))),
      'Name is too long (129 bytes > max of 128)',
    );
  });

  test('length is checked before the bytes', () => {
    assert.equal(
      lockNameProblem(new Uint8Array(129).fill(0)),
      'Name is too long (129 bytes > max of 128)',
    );
  });

  test('the first disallowed byte is reported, with its decimal value and offset', () => {
    assert.equal(
      lockNameProblem(bytesOf('ab c\u0001')),
      'Name contains non-printable/non-ascii byte 32 at offset 2',
    );
    assert.equal(
      lockNameProblem(new Uint8Array([255, 0])),
      'Name contains non-printable/non-ascii byte 255 at offset 0',
    );
    assert.equal(
      lockNameProblem(bytesOf(`${'a'.repeat(127)}!`)),
      'Name contains non-printable/non-ascii byte 33 at offset 127',
    );
  });

  test('every one of the 256 byte values, alone and after a valid byte', () => {
    for (let byte = 0; byte < 256; byte++) {
      const allowed = allowedCharacters.includes(String.fromCharCode(byte));
      const expected = (offset: number): string | undefined =>
        allowed
          ? undefined
          : `Name contains non-printable/non-ascii byte ${byte} at offset ${offset}`;
      assert.equal(lockNameProblem(new Uint8Array([byte])), expected(0), `byte ${byte}`);
      assert.equal(lockNameProblem(new Uint8Array([0x61, byte])), expected(1), `byte ${byte}`);
    }
  });

  test('every allowed byte class is accepted', () => {
    for (const name of ['$', '-', '.', '0123456789', 'ABCXYZ', '_', 'abcxyz', allowedCharacters]) {
      assert.equal(lockNameProblem(bytesOf(name)), undefined, name);
    }
  });
});

describe('parseLockName', () => {
  test('the contract examples', () => {
    assert.deepEqual(parseLockName('foo'), { kind: 'valid', name: 'foo' });
    assert.deepEqual(parseLockName('a%20b'), badByte(32, 1));
    assert.deepEqual(parseLockName('%E6%97%A5'), badByte(230, 0));
    assert.deepEqual(parseLockName('a+b'), badByte(43, 1));
    assert.deepEqual(parseLockName('a%2Bb'), badByte(43, 1));
    assert.deepEqual(parseLockName('%BD'), badByte(189, 0));
    assert.deepEqual(parseLockName(''), invalid('Name is empty string'));
  });

  test('invalid percent-encoding', () => {
    for (const segment of ['%', '%G1', '%4', 'foo%', '%41%4']) {
      assert.deepEqual(parseLockName(segment), invalid(invalidPercentEncodingMessage), segment);
    }
    assert.equal(invalidPercentEncodingMessage, 'Invalid percent-encoding in lock name');
  });

  test('a decoded slash does not match the route', () => {
    assert.deepEqual(parseLockName('a%2Fb'), { kind: 'route-mismatch' });
    assert.deepEqual(parseLockName('%2f'), { kind: 'route-mismatch' });
    // The slash wins over the length and byte checks: the path is not a lock path at all.
    assert.deepEqual(parseLockName(`${'%20'.repeat(200)}%2F`), { kind: 'route-mismatch' });
  });

  test('the length counts decoded bytes', () => {
    assert.deepEqual(parseLockName('%41'.repeat(128)), { kind: 'valid', name: 'A'.repeat(128) });
    assert.deepEqual(
      parseLockName('%41'.repeat(129)),
      invalid('Name is too long (129 bytes > max of 128)'),
    );
    assert.deepEqual(
      parseLockName('%41'.repeat(300)),
      invalid('Name is too long (300 bytes > max of 128)'),
    );
    assert.deepEqual(
      parseLockName(`${'%20'.repeat(300)}`),
      invalid('Name is too long (300 bytes > max of 128)'),
    );
  });

  test('every one of the 256 byte values, percent-encoded in either case, at offset 1', () => {
    let accepted = 0;
    for (let byte = 0; byte < 256; byte++) {
      const character = String.fromCharCode(byte);
      for (const encoded of [`%${hex(byte)}`, `%${hex(byte).toLowerCase()}`]) {
        const parsed = parseLockName(`a${encoded}b`);
        if (byte === 0x2f) {
          assert.deepEqual(parsed, { kind: 'route-mismatch' }, encoded);
        } else if (allowedCharacters.includes(character)) {
          assert.deepEqual(parsed, { kind: 'valid', name: `a${character}b` }, encoded);
        } else {
          assert.deepEqual(parsed, badByte(byte, 1), encoded);
        }
      }
      if (allowedCharacters.includes(character)) accepted += 1;
    }
    assert.equal(accepted, 66);
  });

  test('the first bad byte wins, raw or decoded', () => {
    assert.deepEqual(parseLockName('ab%FFc%00'), badByte(255, 2));
    assert.deepEqual(parseLockName('ab!%FF'), badByte(33, 2));
  });

  test('agrees with a naive reference on random byte strings (seeded)', () => {
    const seed = Number(process.env.LOCKD_TEST_SEED ?? 20_251_127);
    const reference = (bytes: Uint8Array): ReturnType<typeof parseLockName> => {
      if (bytes.includes(0x2f)) return { kind: 'route-mismatch' };
      if (bytes.length === 0) return invalid('Name is empty string');
      if (bytes.length > 128) {
        return invalid(`Name is too long (${bytes.length} bytes > max of 128)`);
      }
      const offset = bytes.findIndex(
        (byte) => !allowedCharacters.includes(String.fromCharCode(byte)),
      );
      if (offset >= 0) return badByte(bytes[offset] ?? -1, offset);
      return { kind: 'valid', name: Buffer.from(bytes).toString('latin1') };
    };
    const encodedBytes = fc
      .array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.boolean()), { maxLength: 160 })
      .map((pairs) => ({
        bytes: new Uint8Array(pairs.map(([byte]) => byte)),
        // Allowed bytes and `+` may travel raw; every byte may travel percent-encoded.
        segment: pairs
          .map(([byte, raw]) => {
            const character = String.fromCharCode(byte);
            const mayBeRaw = allowedCharacters.includes(character) || character === '+';
            return raw && mayBeRaw ? character : `%${hex(byte)}`;
          })
          .join(''),
      }));
    try {
      fc.assert(
        fc.property(encodedBytes, ({ bytes, segment }) => {
          assert.deepEqual(parseLockName(segment), reference(bytes));
        }),
        { seed, numRuns: 2_000 },
      );
    } catch (error) {
      console.error(`names property test failed with seed ${seed} (set LOCKD_TEST_SEED)`);
      throw error;
    }
  });
});
