import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidResponseError } from '../../src/client/errors.js';
import { maxLineBytes, SseParser } from '../../src/client/sse.js';

describe('SseParser', () => {
  test('fields, comments, multi-line data, and the id kept across messages', () => {
    const parser = new SseParser();
    const text =
      ': a comment\n' +
      'id: 1-0\nevent: grant\ndata: {"a":1}\n\n' +
      'data: first\ndata:second\ndata\n\n' +
      'event: gap\nretry: 10\nunknown: x\ndata: lost\n\n';
    assert.deepEqual(parser.feed(text), [
      { type: 'grant', data: '{"a":1}', lastEventId: '1-0' },
      { type: 'message', data: 'first\nsecond\n', lastEventId: '1-0' },
      { type: 'gap', data: 'lost', lastEventId: '1-0' },
    ]);
  });

  test('CRLF, CR and LF line ends, split anywhere, even inside a CRLF', () => {
    const text = 'id: 7-1\r\nevent: release\rdata: x\r\n\r\ndata: y\n\n';
    const expected = [
      { type: 'release', data: 'x', lastEventId: '7-1' },
      { type: 'message', data: 'y', lastEventId: '7-1' },
    ];
    for (let split = 0; split <= text.length; split++) {
      const parser = new SseParser();
      const messages = [...parser.feed(text.slice(0, split)), ...parser.feed(text.slice(split))];
      assert.deepEqual(messages, expected, `split at ${split}`);
    }
  });

  test('a blank line without data dispatches nothing; an id with NUL is ignored', () => {
    const parser = new SseParser();
    assert.deepEqual(parser.feed('id: 3-0\n\nevent: grant\n\n'), []);
    assert.deepEqual(parser.feed('id: a\u0000b\ndata: z\n\n'), [
      { type: 'message', data: 'z', lastEventId: '3-0' },
    ]);
  });

  test('a line or a message beyond the bound is refused', () => {
    assert.throws(
      () => new SseParser().feed('data: '.padEnd(maxLineBytes + 10, 'x')),
      InvalidResponseError,
    );
    const parser = new SseParser();
    const line = `data: ${'x'.repeat(1024)}\n`;
    assert.throws(() => {
      for (let count = 0; count < 1_000; count++) parser.feed(line);
    }, InvalidResponseError);
  });
});
