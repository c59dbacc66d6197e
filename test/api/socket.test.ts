/**
 * The server over a real socket: raw request targets that fetch would normalise, and the
 * answers Node's HTTP parser gives before fastify sees a request.
 */
import assert from 'node:assert/strict';
import { maxHeaderSize } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { rawRequest } from '../support/lockd-process.js';
import type { FakeLockService } from './fake-lock-service.js';
import { buildTestServer, jsonContentType } from './helpers.js';

const send = rawRequest;

/** Writes `bytes` on a fresh connection and reads until the server closes it. */
function sendRaw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
    socket.write(bytes);
  });
}

function assertRawJson(raw: string, status: string, body: string, errorCode: string): void {
  const [head = '', received] = raw.split('\r\n\r\n');
  const lines = head.split('\r\n');
  assert.equal(lines[0], status, raw);
  assert.ok(lines.includes(`Content-Type: ${jsonContentType}`), raw);
  assert.ok(lines.includes(`Content-Length: ${Buffer.byteLength(body)}`), raw);
  assert.ok(lines.includes(`Lockd-Error-Code: ${errorCode}`), raw);
  assert.equal(received, body, raw);
}

describe('over a real socket', () => {
  let app: FastifyInstance;
  let service: FakeLockService;
  let port = 0;

  before(async () => {
    ({ app, service } = buildTestServer({ requestTimeoutMs: 50 }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as AddressInfo).port;
  });

  after(async () => {
    await app.close();
  });

  test('the seed flow with fetch, a POST without body or content type', async () => {
    const base = `http://127.0.0.1:${port}/lock/socket-flow`;
    const expected = [
      ['GET', 404, '{"error":"Not Found"}\n'],
      ['POST', 200, undefined],
      ['GET', 200, undefined],
      ['POST', 409, '{"error":"Lock conflict"}\n'],
      ['DELETE', 200, '{}\n'],
      ['DELETE', 404, '{"error":"Not Found"}\n'],
    ] as const;
    const bodies: string[] = [];
    for (const [method, status, body] of expected) {
      const response = await fetch(base, { method });
      assert.equal(response.status, status);
      assert.equal(response.headers.get('content-type'), jsonContentType);
      const text = await response.text();
      bodies.push(text);
      if (body !== undefined) assert.equal(text, body);
    }
    // The 200s carry the grant and the lock's holders (their exact bytes: routes.test.ts).
    assert.match(bodies[1] ?? '', /^\{"name":"socket-flow","owner":null,"token":\d+,/);
    assert.match(bodies[2] ?? '', /^\{"name":"socket-flow","mode":"exclusive",/);
    // curl -X POST: no body, no Content-Type, no Content-Length.
    const curlLike = await send(port, 'POST', '/lock/curl-like');
    assert.equal(curlLike.status, 200);
    assert.match(
      curlLike.body,
      /^\{"name":"curl-like","owner":null,"token":\d+,"mode":"exclusive","ttlMs":null,"expiresAt":null,"acquiredAt":"[^"]+"\}\n$/,
    );
    assert.equal(curlLike.headers['lockd-token'], String(service.holders('curl-like')[0]?.token));
  });

  test('raw targets: %BD, a+b, /lock/a/b, /lock/, a%2Fb, absolute form', async () => {
    const cases: ReadonlyArray<readonly [string, number, string, string | undefined]> = [
      [
        '/lock/%BD',
        400,
        '{"error":"Name contains non-printable/non-ascii byte 189 at offset 0"}\n',
        'LOCKD_ERR_BAD_NAME',
      ],
      [
        '/lock/a+b',
        400,
        '{"error":"Name contains non-printable/non-ascii byte 43 at offset 1"}\n',
        'LOCKD_ERR_BAD_NAME',
      ],
      [
        '/lock/%G1',
        400,
        '{"error":"Invalid percent-encoding in lock name"}\n',
        'LOCKD_ERR_BAD_NAME',
      ],
      ['/lock/a/b', 404, '{"error":"Not Found"}\n', 'LOCKD_ERR_NOT_FOUND'],
      ['/lock/', 404, '{"error":"Not Found"}\n', 'LOCKD_ERR_NOT_FOUND'],
      ['/lock/a%2Fb', 404, '{"error":"Not Found"}\n', 'LOCKD_ERR_NOT_FOUND'],
      ['/lock/../healthz', 404, '{"error":"Not Found"}\n', 'LOCKD_ERR_NOT_FOUND'],
      [
        '/lock/a#b',
        400,
        '{"error":"Name contains non-printable/non-ascii byte 35 at offset 1"}\n',
        'LOCKD_ERR_BAD_NAME',
      ],
      [
        `http://127.0.0.1:${port}/lock/absolute?stale=true`,
        404,
        '{"error":"Not Found"}\n',
        'LOCKD_ERR_NOT_FOUND',
      ],
      [`http://127.0.0.1:${port}/healthz`, 200, '{"status":"ok"}\n', undefined],
    ];
    for (const [path, status, body, errorCode] of cases) {
      const response = await send(port, 'GET', path);
      assert.equal(response.status, status, path);
      assert.equal(response.body, body, path);
      assert.equal(response.headers['content-type'], jsonContentType, path);
      assert.equal(response.headers['lockd-error-code'], errorCode, path);
    }
    // The absolute-form target was read as the name `absolute`; every other one was refused.
    const others = service.calls.filter(
      (call) => call.name !== 'socket-flow' && call.name !== 'curl-like',
    );
    assert.deepEqual(others, [
      { method: 'describe', name: 'absolute', request: { name: 'absolute', stale: true } },
    ]);
  });

  test('HEAD has the headers of GET and no body; PUT → 405 with Allow', async () => {
    const head = await send(port, 'HEAD', '/lock/nothing-here');
    assert.deepEqual([head.status, head.body], [404, '']);
    assert.equal(head.headers['content-length'], '22');
    assert.equal(head.headers['lockd-error-code'], 'LOCKD_ERR_NOT_FOUND');
    const put = await send(port, 'PUT', '/lock/foo', 'body');
    assert.deepEqual([put.status, put.body], [405, '{"error":"Method PUT not allowed"}\n']);
    assert.equal(put.headers.allow, 'GET, HEAD, POST, DELETE');
  });

  test('what Node refuses before routing is answered in the JSON contract', async () => {
    const longTarget = `/lock/${'a'.repeat(maxHeaderSize + 1)}`;
    assertRawJson(
      await sendRaw(port, `GET ${longTarget} HTTP/1.1\r\nHost: x\r\n\r\n`),
      'HTTP/1.1 400 Bad Request',
      `{"error":"Request line and headers too large (max ${maxHeaderSize} bytes)"}\n`,
      'LOCKD_ERR_BAD_REQUEST',
    );
    for (const target of ['/lock/a\u0000b', '/lock/a\u00e6b', '/lock/a\u007fb']) {
      assertRawJson(
        await sendRaw(port, `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`),
        'HTTP/1.1 400 Bad Request',
        '{"error":"Malformed request target"}\n',
        'LOCKD_ERR_BAD_REQUEST',
      );
    }
    assertRawJson(
      await sendRaw(port, 'this is not http\r\n\r\n'),
      'HTTP/1.1 400 Bad Request',
      '{"error":"Malformed HTTP request"}\n',
      'LOCKD_ERR_BAD_REQUEST',
    );
  });

  test('a long but parseable target reaches the name check', async () => {
    const response = await send(port, 'GET', `/lock/${'%41'.repeat(4_000)}`);
    assert.equal(response.status, 400);
    assert.equal(response.body, '{"error":"Name is too long (4000 bytes \\u003e max of 128)"}\n');
  });

  test('a client that stops sending its body is answered 503, and nothing changes', async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      const chunks: Buffer[] = [];
      socket.on('data', (chunk) => {
        // The answer came while the body is still short: send the rest, then hang up.
        if (chunks.length === 0) socket.end('defghij');
        chunks.push(chunk);
      });
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
      socket.on('error', reject);
      socket.write(
        'POST /lock/stalled HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nabc',
      );
    });
    assert.match(raw, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    assert.match(raw, /\r\nRetry-After: 1\r\n/i);
    assert.match(raw, /\r\nLockd-Error-Code: LOCKD_ERR_TIMEOUT\r\n/i);
    assert.ok(raw.endsWith('\r\n\r\n{"error":"Request not completed within 100 ms"}\n'), raw);
    const check = await send(port, 'GET', '/lock/stalled');
    assert.equal(check.status, 404);
    assert.deepEqual(
      service.calls.filter((call) => call.name === 'stalled').map((call) => call.method),
      ['describe'],
    );
  });
});
