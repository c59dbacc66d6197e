// The benchmark's own HTTP/1.1 client (bench/http.ts) and its response parser
// (bench/http-parser.ts): exact requests on the wire, responses framed every way the targets
// frame them and split at every byte, keep-alive and reconnects, and every failure rejected.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import {
  type AddressInfo,
  createServer as createNetServer,
  type Server,
  type Socket,
} from 'node:net';
import { after, describe, test } from 'node:test';
import {
  createWorkerConnection,
  type HttpRequest,
  type WorkerConnection,
} from '../../bench/http.js';
import {
  bodyBytesMax,
  headerBytesMax,
  type ParsedResponse,
  ResponseParser,
} from '../../bench/http-parser.js';

const timeoutMs = 5000;

function get(path: string, readBody = true): HttpRequest {
  return { method: 'GET', path, readBody, timeoutMs };
}

/** Feeds `pieces` to a fresh parser; the response must complete on the last piece only. */
function parsePieces(pieces: readonly Buffer[], readBody = true): ParsedResponse {
  const parser = new ResponseParser(readBody);
  for (const [index, piece] of pieces.entries()) {
    const response = parser.push(piece);
    if (index < pieces.length - 1) assert.equal(response, undefined, `complete at piece ${index}`);
    else if (response !== undefined) return response;
  }
  throw new Error('the response did not complete');
}

/**
 * Parses `bytes` split into three pieces at every pair of cut points (pieces may be empty only
 * where the socket could never deliver them, so empty pieces are left out).
 */
function assertEverySplit(bytes: Buffer, expected: ParsedResponse, readBody = true): number {
  let splits = 0;
  for (let first = 1; first < bytes.length; first++) {
    for (let second = first; second < bytes.length; second++) {
      const pieces = [
        bytes.subarray(0, first),
        bytes.subarray(first, second),
        bytes.subarray(second),
      ];
      const nonEmpty = pieces.filter((piece) => piece.length > 0);
      assert.deepEqual(parsePieces(nonEmpty, readBody), expected, `cut at ${first}, ${second}`);
      splits += 1;
    }
  }
  return splits;
}

const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1');

describe('the response parser, split at every byte', () => {
  test('a content-length body, with the body read and unread', () => {
    const body = '{"é":"ü ok"}';
    const bytes = Buffer.from(
      `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCONTENT-LENGTH: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      'utf8',
    );
    assert.equal(Buffer.byteLength(body), 14);
    assert.ok(assertEverySplit(bytes, { status: 200, body, keepAlive: true }) > 0);
    assertEverySplit(bytes, { status: 200, body: '', keepAlive: true }, false);
  });

  test('a chunked body with extensions and trailers, a UTF-8 character across chunks', () => {
    const euro = Buffer.from('€', 'utf8');
    const bytes = Buffer.concat([
      latin1('HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n'),
      latin1('4;name=value\r\nab'),
      euro.subarray(0, 2),
      latin1('\r\n1\r\n'),
      euro.subarray(2),
      latin1('\r\nA \r\n0123456789\r\n0;last\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n'),
    ]);
    assertEverySplit(bytes, { status: 201, body: 'ab€0123456789', keepAlive: true });
    assertEverySplit(bytes, { status: 201, body: '', keepAlive: true }, false);
  });

  test('connection: close, HTTP/1.0, 204, interim 100 and a body ended by the close', () => {
    assert.deepEqual(
      parsePieces([latin1('HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 2\r\n\r\nhi')]),
      { status: 200, body: 'hi', keepAlive: false },
    );
    assert.deepEqual(parsePieces([latin1('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n')]), {
      status: 200,
      body: '',
      keepAlive: false,
    });
    assert.deepEqual(
      parsePieces([
        latin1('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n'),
      ]),
      { status: 200, body: '', keepAlive: true },
    );
    assert.deepEqual(
      parsePieces([latin1('HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n')]),
      {
        status: 204,
        body: '',
        keepAlive: true,
      },
    );
    const interim = latin1(
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nx',
    );
    assertEverySplit(interim, { status: 404, body: 'x', keepAlive: true });
    const parser = new ResponseParser(true);
    assert.equal(parser.push(latin1('HTTP/1.1 200 OK\r\n\r\nuntil ')), undefined);
    assert.equal(parser.push(latin1('close')), undefined);
    assert.deepEqual(parser.finish(), { status: 200, body: 'until close', keepAlive: false });
  });

  test('malformed responses and exceeded limits throw', () => {
    const throwsOn = (text: string, message: RegExp): void => {
      assert.throws(() => new ResponseParser(true).push(latin1(text)), message);
    };
    throwsOn('HTTP/2 200 OK\r\n\r\n', /bad status line/);
    throwsOn('HTTP/1.1 200 OK\r\nno colon\r\n\r\n', /bad header line/);
    throwsOn('HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', /bad content-length/);
    throwsOn('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', /two different/);
    throwsOn('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n', /unsupported transfer-encoding/);
    throwsOn('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /bad chunk size/);
    throwsOn(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n',
      /longer than its size/,
    );
    throwsOn(
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab',
      /1 bytes arrived after the response/,
    );
    throwsOn(`HTTP/1.1 200 OK\r\nContent-Length: ${bodyBytesMax + 1}\r\n\r\n`, /body over/);
    throwsOn('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n', /body over/);
    const parser = new ResponseParser(false);
    assert.equal(parser.push(latin1('HTTP/1.1 200 OK\r\nX-Big: ')), undefined);
    assert.throws(() => parser.push(Buffer.alloc(headerBytesMax, 0x61)), /head over 65536 bytes/);
    const complete = new ResponseParser(false);
    assert.ok(complete.push(latin1('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')));
    assert.throws(() => complete.push(latin1('x')), /after the response was complete/);
    assert.equal(new ResponseParser(true).finish(), undefined);
  });
});

interface RawServer {
  readonly port: number;
  /** Connections accepted so far. */
  connections: number;
  /** Every request received, in order, as latin1 text. */
  readonly requests: string[];
  close(): Promise<void>;
}

/**
 * A TCP server that reads whole requests (a head and a content-length body) and hands each to
 * `answer`, which writes whatever bytes the test wants back.
 */
async function startRawServer(
  answer: (socket: Socket, request: string, index: number) => void | Promise<void>,
  port = 0,
): Promise<RawServer> {
  const sockets = new Set<Socket>();
  const server: Server = createNetServer((socket) => {
    state.connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      // Each pass takes one whole request off the front; a request is at least 4 bytes long.
      for (let pass = 0; pass < 1000; pass++) {
        const headEnd = received.indexOf('\r\n\r\n');
        if (headEnd === -1) return;
        const length = Number(/content-length: (\d+)/i.exec(received.slice(0, headEnd))?.[1] ?? 0);
        const end = headEnd + 4 + length;
        if (received.length < end) return;
        const request = received.slice(0, end);
        received = received.slice(end);
        state.requests.push(request);
        // A client that gave up on a response makes the server's writes fail; that is expected.
        Promise.resolve(answer(socket, request, state.requests.length - 1)).catch(() => undefined);
      }
    });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const state: RawServer = {
    port: (server.address() as AddressInfo).port,
    connections: 0,
    requests: [],
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
  return state;
}

/** Writes the pieces one by one, each after the previous one has left for the kernel. */
async function writePieces(socket: Socket, pieces: readonly (string | Buffer)[]): Promise<void> {
  for (const piece of pieces) {
    await new Promise<void>((resolve, reject) =>
      socket.write(piece, (error) => (error ? reject(error) : resolve())),
    );
    // A turn of the event loop between pieces, so they usually travel in separate segments.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function startHttpServer(
  handler: Parameters<typeof createHttpServer>[1],
): Promise<{ server: HttpServer; port: number; connections: () => number }> {
  let connections = 0;
  const server = createHttpServer(handler);
  server.on('connection', () => {
    connections += 1;
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, connections: () => connections };
}

async function closeHttpServer(server: HttpServer): Promise<void> {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
}

describe('the worker connection', () => {
  const opened: WorkerConnection[] = [];
  const connectionTo = (port: number): WorkerConnection => {
    const connection = createWorkerConnection(port);
    opened.push(connection);
    return connection;
  };
  after(() => {
    for (const connection of opened) connection.close();
  });

  test('writes the exact request bytes and reads a content-length body', async () => {
    const server = await startRawServer((socket, request) => {
      const body = request.startsWith('POST') ? '{"key":"k€"}' : '';
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
    try {
      const connection = connectionTo(server.port);
      const json = '{"name":"é"}';
      const reply = await connection.send({
        method: 'POST',
        path: '/v3/lock/lock?x=1',
        json,
        readBody: true,
        timeoutMs,
      });
      assert.deepEqual(reply, { status: 200, body: '{"key":"k€"}' });
      assert.deepEqual(await connection.send({ ...get('/healthz'), method: 'DELETE' }), {
        status: 200,
        body: '',
      });
      assert.deepEqual(server.requests, [
        `POST /v3/lock/lock?x=1 HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n${Buffer.from(json, 'utf8').toString('latin1')}`,
        `DELETE /healthz HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`,
      ]);
    } finally {
      await server.close();
    }
  });

  test('a node:http server: one connection kept alive for many requests, bodies read or not', async () => {
    const { server, port, connections } = await startHttpServer((request, response) => {
      response.writeHead(request.url === '/missing' ? 404 : 200, {
        'content-type': 'application/json',
      });
      response.end(JSON.stringify({ url: request.url }));
    });
    try {
      const connection = connectionTo(port);
      assert.deepEqual(await connection.send(get('/one')), { status: 200, body: '{"url":"/one"}' });
      assert.deepEqual(await connection.send(get('/missing', false)), { status: 404, body: '' });
      assert.deepEqual(await connection.send(get('/three')), {
        status: 200,
        body: '{"url":"/three"}',
      });
      assert.equal(connections(), 1);
    } finally {
      await closeHttpServer(server);
    }
  });

  test('a chunked body written in awkward pieces', async () => {
    const euro = Buffer.from('€', 'utf8');
    const server = await startRawServer((socket) =>
      writePieces(socket, [
        'HTTP/1.1 200 OK\r\nTransfer-Enc',
        'oding: chunked\r\n\r',
        '\n3;ext=1\r',
        '\na',
        Buffer.concat([latin1('b'), euro.subarray(0, 1)]),
        Buffer.concat([latin1('\r\n2\r\n'), euro.subarray(1)]),
        '\r\n0\r\nTrailer: ',
        'x\r\n\r',
        '\n',
      ]),
    );
    try {
      const connection = connectionTo(server.port);
      assert.deepEqual(await connection.send(get('/chunked')), { status: 200, body: 'ab€' });
      assert.deepEqual(await connection.send(get('/chunked', false)), { status: 200, body: '' });
      assert.equal(server.connections, 1);
    } finally {
      await server.close();
    }
  });

  test('connection: close finishes the response, then the next request reconnects', async () => {
    const { server, port, connections } = await startHttpServer((request, response) => {
      if (request.url === '/last') response.setHeader('connection', 'close');
      response.end(request.url);
    });
    try {
      const connection = connectionTo(port);
      assert.deepEqual(await connection.send(get('/last')), { status: 200, body: '/last' });
      assert.deepEqual(await connection.send(get('/next')), { status: 200, body: '/next' });
      assert.deepEqual(await connection.send(get('/again')), { status: 200, body: '/again' });
      assert.equal(connections(), 2);
    } finally {
      await closeHttpServer(server);
    }
  });

  test('a body ended by the server closing the connection', async () => {
    const server = await startRawServer((socket) => {
      socket.end('HTTP/1.1 200 OK\r\n\r\nall of it');
    });
    try {
      const connection = connectionTo(server.port);
      assert.deepEqual(await connection.send(get('/')), { status: 200, body: 'all of it' });
      assert.deepEqual(await connection.send(get('/')), { status: 200, body: 'all of it' });
      assert.equal(server.connections, 2);
    } finally {
      await server.close();
    }
  });

  test('an oversized body is rejected and the next request reconnects', async () => {
    const big = Buffer.alloc(bodyBytesMax + 1, 0x61);
    const server = await startRawServer((socket, _request, index) => {
      if (index === 0)
        return writePieces(socket, [`HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\n\r\n`]);
      if (index === 1)
        return writePieces(socket, [
          'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
          `${big.length.toString(16)}\r\n`,
        ]);
      if (index === 2)
        return writePieces(socket, ['HTTP/1.1 200 OK\r\n\r\n', big.subarray(0, 1000), big]);
      return writePieces(socket, ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok']);
    });
    try {
      const connection = connectionTo(server.port);
      await assert.rejects(connection.send(get('/declared')), /body over 1048576 bytes/);
      await assert.rejects(connection.send(get('/chunked', false)), /body over 1048576 bytes/);
      await assert.rejects(connection.send(get('/until-close')), /body over 1048576 bytes/);
      assert.deepEqual(await connection.send(get('/small')), { status: 200, body: 'ok' });
      assert.equal(server.connections, 4);
    } finally {
      await server.close();
    }
  });

  test('no answer within timeoutMs is rejected; the next request uses a new connection', async () => {
    const server = await startRawServer((socket, request) => {
      if (request.startsWith('GET /answered ')) socket.write('HTTP/1.1 204 No Content\r\n\r\n');
    });
    try {
      const connection = connectionTo(server.port);
      const started = performance.now();
      await assert.rejects(
        connection.send({ ...get('/silent'), timeoutMs: 50 }),
        /^Error: no answer within 50 ms$/,
      );
      // Timers run on the loop's millisecond clock, so allow a little under 50 ms here.
      assert.ok(performance.now() - started >= 45);
      assert.deepEqual(await connection.send(get('/answered')), { status: 204, body: '' });
      assert.equal(server.connections, 2);
    } finally {
      await server.close();
    }
  });

  test('the server closing mid-response, or sending garbage, rejects the request', async () => {
    const server = await startRawServer((socket, request) => {
      if (request.startsWith('GET /cut ')) {
        socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf');
      } else if (request.startsWith('GET /reset ')) {
        socket.write('HTTP/1.1 200 OK\r\nContent-Le');
        socket.resetAndDestroy();
      } else if (request.startsWith('GET /garbage ')) {
        socket.write('SMTP ready\r\n\r\n');
      } else {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      }
    });
    try {
      const connection = connectionTo(server.port);
      await assert.rejects(
        connection.send(get('/cut')),
        /the connection closed before the response was complete/,
      );
      await assert.rejects(connection.send(get('/reset')), /ECONNRESET|closed before the response/);
      await assert.rejects(connection.send(get('/garbage')), /bad status line "SMTP ready"/);
      assert.deepEqual(await connection.send(get('/fine')), { status: 200, body: '' });
    } finally {
      await server.close();
    }
  });

  test('survives a server restart on the same port', async () => {
    const answer = (socket: Socket): void => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nup');
    };
    const first = await startRawServer(answer);
    const connection = connectionTo(first.port);
    assert.deepEqual(await connection.send(get('/')), { status: 200, body: 'up' });
    await first.close();
    await assert.rejects(connection.send(get('/')), /ECONNREFUSED|ECONNRESET|closed before/);
    const second = await startRawServer(answer, first.port);
    try {
      assert.deepEqual(await connection.send(get('/')), { status: 200, body: 'up' });
      assert.equal(second.connections, 1);
    } finally {
      await second.close();
    }
  });

  test('refuses a second request in flight, a bad target, and any request after close', async () => {
    const server = await startRawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    });
    try {
      const connection = connectionTo(server.port);
      const first = connection.send(get('/first'));
      await assert.rejects(connection.send(get('/second')), /already in flight/);
      assert.deepEqual(await first, { status: 200, body: '' });
      await assert.rejects(connection.send(get('/a b')), /bad request target/);
      await assert.rejects(connection.send(get('/a\r\nX-Injected: 1')), /bad request target/);
      const pending = connection.send(get('/closing'));
      connection.close();
      await assert.rejects(pending, /closed by its owner/);
      await assert.rejects(connection.send(get('/after')), /closed by its owner/);
      assert.equal(server.requests[0]?.split(' ')[1], '/first');
      assert.equal(server.connections, 1);
    } finally {
      await server.close();
    }
  });
});
