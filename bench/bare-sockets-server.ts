/**
 * The floors beside Redis in `npm run bench`: the lock API's happy path served straight from
 * node:net sockets by a parser of a few lines, with no framework, no validation and no consensus.
 *
 *   node --import tsx bench/bare-sockets-server.ts [--log FILE]
 *
 * With --log, it keeps Redis's durability under `appendfsync always`: the changes read in one
 * turn of the event loop are appended to FILE and fdatasynced once, and only then are that turn's
 * answers written (Redis's beforeSleep does the same). It is the least one Node.js thread does to
 * serve this load as durably as Redis does, so lockd, which does more, cannot be faster than it
 * on the same machine; it shows whether a target set against Redis is reachable from Node.js.
 */
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { log: { type: 'string' } } });
const logFile = values.log === undefined ? undefined : openSync(values.log, 'a');

/** A request (head and body) still incomplete past this many bytes closes its connection. */
const pendingLimitBytes = 16 * 1024;
const contentLengthPattern = /\r\ncontent-length:\s*(\d+)/i;

function response(status: number, reason: string, body: string): Buffer {
  const head = `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\n`;
  return Buffer.from(`${head}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, 'latin1');
}

const answers = {
  200: response(200, 'OK', '{}\n'),
  404: response(404, 'Not Found', '{"error":"Not Found"}\n'),
  409: response(409, 'Conflict', '{"error":"Lock conflict"}\n'),
} as const;

const locks = new Set<string>();

/** This turn's changes, as log lines, and each socket's answers, written after the fdatasync. */
let changes: string[] = [];
const answersDue = new Map<Socket, Buffer[]>();
let flushScheduled = false;

function flush(): void {
  flushScheduled = false;
  if (logFile !== undefined && changes.length > 0) {
    writeSync(logFile, changes.join(''));
    fdatasyncSync(logFile);
  }
  changes = [];
  for (const [socket, buffers] of answersDue)
    if (!socket.destroyed)
      socket.write(buffers.length === 1 ? (buffers[0] as Buffer) : Buffer.concat(buffers));
  answersDue.clear();
}

/** Applies one request to the set and returns its answer. */
function serve(method: string, target: string): Buffer {
  const name = target.startsWith('/lock/') ? target.slice('/lock/'.length).split('?')[0] : '';
  if (name === undefined || name === '') return answers[404];
  if (method === 'POST') {
    if (locks.has(name)) return answers[409];
    locks.add(name);
    changes.push(`+${name}\n`);
    return answers[200];
  }
  if (method === 'DELETE') {
    if (!locks.delete(name)) return answers[404];
    changes.push(`-${name}\n`);
    return answers[200];
  }
  return locks.has(name) ? answers[200] : answers[404];
}

function answer(socket: Socket, bytes: Buffer): void {
  const due = answersDue.get(socket);
  if (due === undefined) answersDue.set(socket, [bytes]);
  else due.push(bytes);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
}

/** Serves every complete request in `pending` and returns what is left of it. */
function serveComplete(socket: Socket, pending: string): string {
  let rest = pending;
  for (;;) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd < 0) return rest;
    const head = rest.slice(0, headEnd);
    const bodyLength = Number(contentLengthPattern.exec(head)?.[1] ?? 0);
    const requestEnd = headEnd + 4 + bodyLength;
    if (rest.length < requestEnd) return rest;
    const [method = '', target = ''] = head.slice(0, head.indexOf('\r\n')).split(' ');
    answer(socket, serve(method, target));
    rest = rest.slice(requestEnd);
  }
}

const server = createServer((socket) => {
  socket.setNoDelay(true);
  let pending = '';
  socket.on('data', (chunk: Buffer) => {
    pending = serveComplete(socket, pending + chunk.toString('latin1'));
    if (pending.length > pendingLimitBytes) socket.destroy();
  });
  socket.on('error', () => socket.destroy());
  socket.on('close', () => answersDue.delete(socket));
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(
    `${JSON.stringify({ msg: 'lockd ready', port, url: `http://127.0.0.1:${port}` })}\n`,
  );
});
process.on('SIGTERM', () => {
  if (logFile !== undefined) closeSync(logFile);
  process.exit(0);
});
