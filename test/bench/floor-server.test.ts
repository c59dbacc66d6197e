// The node:net floor beside Redis (bench/bare-sockets-server.ts, started by bench/targets/floor.ts):
// it answers the lock API's happy path as the bare node:http server does, splits pipelined
// requests and bodies correctly, and with appendfsync always has each change in its log before
// the answer leaves.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createWorkerConnection, type HttpRequest } from '../../bench/http.js';
import { makeTemporaryDirectory, removeTemporaryDirectory } from '../../bench/processes.js';
import { floorTarget } from '../../bench/targets/floor.js';
import { LockdSession } from '../../bench/targets/lockd.js';
import type { Deployment } from '../../bench/targets/target.js';

const timeoutMs = 10_000;

function request(method: HttpRequest['method'], path: string, json?: string): HttpRequest {
  return { method, path, readBody: true, timeoutMs, ...(json === undefined ? {} : { json }) };
}

async function startFloor(
  kind: 'memory' | 'fdatasync',
): Promise<{ deployment: Deployment; directory: string }> {
  const directory = makeTemporaryDirectory('lockd-floor-test-');
  const deployment = await floorTarget(kind).start({ directory, nodes: 1 });
  after(async () => {
    await deployment.stop();
    removeTemporaryDirectory(directory);
  });
  return { deployment, directory };
}

/** The port a variant's sessions talk to, read back from the session it opens. */
async function portOf(deployment: Deployment): Promise<number> {
  const [variant] = deployment.variants;
  assert.ok(variant !== undefined);
  const session = await variant.openSession({ workerIndex: 0, load: 'uncontended', leaseMs: 1 });
  assert.ok(session instanceof LockdSession);
  await session.close();
  return session.port;
}

describe('the node:net floor', () => {
  test('answers acquire, check and release as the seed does, with bodies and queries', async () => {
    const { deployment } = await startFloor('memory');
    const connection = createWorkerConnection(await portOf(deployment));
    try {
      const answers = [];
      for (const next of [
        request('POST', '/lock/a'),
        request('POST', '/lock/a', '{"ttl":"5s"}'),
        request('GET', '/lock/a'),
        request('DELETE', '/lock/a?owner=w1'),
        request('DELETE', '/lock/a'),
        request('GET', '/lock/a'),
        request('POST', '/lock/'),
      ])
        answers.push(await connection.send(next));
      assert.deepEqual(
        answers.map((answer) => `${answer.status} ${answer.body}`),
        [
          '200 {}\n',
          '409 {"error":"Lock conflict"}\n',
          '200 {}\n',
          '200 {}\n',
          '404 {"error":"Not Found"}\n',
          '404 {"error":"Not Found"}\n',
          '404 {"error":"Not Found"}\n',
        ],
      );
    } finally {
      connection.close();
    }
  });

  test('with appendfsync always, every change is in the log once it is answered', async () => {
    const { deployment, directory } = await startFloor('fdatasync');
    const connection = createWorkerConnection(await portOf(deployment));
    try {
      assert.equal((await connection.send(request('POST', '/lock/b'))).status, 200);
      assert.equal(readFileSync(join(directory, 'changes.log'), 'utf8'), '+b\n');
      assert.equal((await connection.send(request('POST', '/lock/b'))).status, 409);
      assert.equal((await connection.send(request('DELETE', '/lock/b'))).status, 200);
      assert.equal(readFileSync(join(directory, 'changes.log'), 'utf8'), '+b\n-b\n');
    } finally {
      connection.close();
    }
  });
});
