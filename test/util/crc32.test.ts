import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { crc32, crc32ByTable } from '../../src/util/crc32.js';

describe('crc32', () => {
  test('the check value of the IEEE polynomial, by zlib and by the table', () => {
    const check = new TextEncoder().encode('123456789');
    assert.equal(crc32(check), 0xcbf43926);
    assert.equal(crc32ByTable(check), 0xcbf43926);
    assert.equal(crc32(new Uint8Array()), 0);
    assert.equal(crc32ByTable(new Uint8Array()), 0);
  });

  test('zlib and the table agree on views into a larger buffer', () => {
    const bytes = Uint8Array.from({ length: 4096 }, (_, index) => (index * 131 + 7) & 0xff);
    for (const [start, end] of [
      [0, 4096],
      [3, 1000],
      [1001, 1002],
    ] as const) {
      const view = bytes.subarray(start, end);
      assert.equal(crc32(view), crc32ByTable(view));
    }
  });
});
