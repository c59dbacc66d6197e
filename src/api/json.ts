/**
 * JSON bodies byte-compatible with the original Go server (encoding/json's Encoder): compact,
 * followed by one newline, with `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u003c`, `\u003e`,
 * `\u0026`, `\u2028`, `\u2029`, and invalid UTF-16 (a lone surrogate) written as U+FFFD the way
 * Go writes invalid UTF-8. Control characters follow JSON.stringify, which matches Go 1.22+.
 */
import { assert } from '../util/assert.js';

export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/** Deeper values than this are a bug in the caller: no lockd body nests anywhere near it. */
const maxDepth = 32;

const goEscapes: Readonly<Record<string, string>> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

const goEscapedCharacters = /[<>&\u2028\u2029]/g;
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * What in JSON.stringify's output differs from Go's: a character Go escapes and JavaScript does
 * not, or the escape JavaScript writes for a lone surrogate (`\udc00`; Go writes U+FFFD). A
 * false alarm (a string holding the text `\ud800`) only takes the slow path, which is exact.
 */
const differsFromGo = /[<>&\u2028\u2029]|\\ud[89a-f]/;

/** Encodes `value` as the Go server would have: the exact bytes of a response body. */
export function encodeJson(value: JsonValue): string {
  // Nearly every body is plain ASCII, for which JSON.stringify writes Go's bytes already: one
  // native call instead of a walk that escapes each string twice.
  assertEncodable(value, 0);
  const text = JSON.stringify(value);
  if (!differsFromGo.test(text)) return `${text}\n`;
  return `${encodeValue(value, 0)}\n`;
}

function encodeString(text: string): string {
  const wellFormed = text.replace(loneSurrogate, '\ufffd');
  return JSON.stringify(wellFormed).replace(goEscapedCharacters, (character) => {
    const escaped = goEscapes[character];
    assert(escaped !== undefined, `no escape for U+${character.charCodeAt(0).toString(16)}`);
    return escaped;
  });
}

function encodeValue(value: JsonValue, depth: number): string {
  assert(depth <= maxDepth, `JSON value nested deeper than ${maxDepth}`);
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    assert(Number.isFinite(value), `JSON cannot encode the number ${value}`);
    return JSON.stringify(value);
  }
  if (typeof value === 'string') return encodeString(value);
  if (isJsonArray(value)) {
    return `[${value.map((item) => encodeValue(item, depth + 1)).join(',')}]`;
  }
  const members = Object.entries(value).map(
    ([key, member]) => `${encodeString(key)}:${encodeValue(member, depth + 1)}`,
  );
  return `{${members.join(',')}}`;
}

/** JSON.stringify would write NaN as null and recurse without bound: a bug in the caller. */
function assertEncodable(value: JsonValue, depth: number): void {
  assert(depth <= maxDepth, `JSON value nested deeper than ${maxDepth}`);
  if (typeof value === 'number') {
    assert(Number.isFinite(value), `JSON cannot encode the number ${value}`);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (isJsonArray(value)) {
    for (const item of value) assertEncodable(item, depth + 1);
    return;
  }
  for (const key in value) assertEncodable(value[key] as JsonValue, depth + 1);
}

// Array.isArray does not narrow a readonly array type, hence this guard.
function isJsonArray(value: JsonValue): value is readonly JsonValue[] {
  return Array.isArray(value);
}
