import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodeJson, type JsonValue } from '../../src/api/json.js';
import { AssertionError } from '../../src/util/assert.js';

describe('encodeJson (Go encoding/json compatible)', () => {
  test('the contract bodies, newline-terminated', () => {
    assert.equal(encodeJson({}), '{}\n');
    assert.equal(encodeJson({ error: 'Lock conflict' }), '{"error":"Lock conflict"}\n');
    assert.equal(encodeJson({ status: 'ok' }), '{"status":"ok"}\n');
  });

  test('escapes <, > and & as Go does', () => {
    assert.equal(encodeJson({ error: 'a<b>c&d' }), '{"error":"a\\u003cb\\u003ec\\u0026d"}\n');
    assert.equal(encodeJson({ '<&>': 1 }), '{"\\u003c\\u0026\\u003e":1}\n');
  });

  test('escapes U+2028 and U+2029', () => {
    assert.equal(encodeJson('\u2028\u2029'), '"\\u2028\\u2029"\n');
  });

  test('writes a lone surrogate as U+FFFD, keeps a valid pair as is', () => {
    assert.equal(encodeJson('a\ud800b'), '"a\ufffdb"\n');
    assert.equal(encodeJson('\udc00'), '"\ufffd"\n');
    assert.equal(encodeJson('\ud83d\ude00'), '"\ud83d\ude00"\n');
  });

  test('the text of an escape is a string like any other, not an escape', () => {
    // The fast path looks for `\ud8..` in JSON.stringify's output; this text makes it look twice.
    assert.equal(encodeJson({ a: '\\ud800<' }), '{"a":"\\\\ud800\\u003c"}\n');
    assert.equal(encodeJson({ a: '\\udc00' }), '{"a":"\\\\udc00"}\n');
    assert.equal(encodeJson(['\ud800', 'plain']), '["\ufffd","plain"]\n');
  });

  test('quotes, backslashes and control characters', () => {
    assert.equal(encodeJson('"\\\n\t\u0001'), '"\\"\\\\\\n\\t\\u0001"\n');
  });

  test('compact nesting, insertion order, scalars', () => {
    assert.equal(
      encodeJson({ b: [1, 2.5, -3], a: { c: null, d: true, e: false }, f: 'x' }),
      '{"b":[1,2.5,-3],"a":{"c":null,"d":true,"e":false},"f":"x"}\n',
    );
    assert.equal(encodeJson([]), '[]\n');
    assert.equal(encodeJson(null), 'null\n');
  });

  test('refuses what JSON cannot say', () => {
    assert.throws(() => encodeJson(Number.NaN), AssertionError);
    assert.throws(() => encodeJson({ ttlMs: Number.POSITIVE_INFINITY }), AssertionError);
    let deep: JsonValue = 1;
    for (let depth = 0; depth < 40; depth++) deep = [deep];
    assert.throws(() => encodeJson(deep), AssertionError);
  });
});
