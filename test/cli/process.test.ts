import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  cliPath,
  findFreePort,
  killHard,
  makeTemporaryDirectory,
  rawRequest,
  startLockd,
} from '../support/lockd-process.js';

const json = 'application/json; charset=utf-8';

describe('lockd as a real process', () => {
  const directory = makeTemporaryDirectory();
  after(() => directory.remove());

  test("the seed README's curl flow: its status codes and error bodies byte for byte", async () => {
    const lockd = await startLockd(['--data-dir', join(directory.path, 'seed')]);
    try {
      // The seed's success body was `{}`; lockd adds fields to it (DESIGN.md §5), so successes
      // are checked field by field and errors byte for byte.
      const steps: ReadonlyArray<readonly [string, number, string | undefined]> = [
        ['GET', 404, '{"error":"Not Found"}\n'],
        ['POST', 200, undefined],
        ['GET', 200, undefined],
        ['POST', 409, '{"error":"Lock conflict"}\n'],
        ['DELETE', 200, '{}\n'],
        ['DELETE', 404, '{"error":"Not Found"}\n'],
        ['GET', 404, '{"error":"Not Found"}\n'],
      ];
      let grantToken = 0;
      for (const [method, status, body] of steps) {
        const response = await rawRequest(lockd.port, method, '/lock/foo');
        assert.equal(response.status, status, `${method} /lock/foo`);
        assert.equal(response.headers['content-type'], json);
        assert.ok(response.body.endsWith('}\n'), 'every body ends with a newline');
        if (body !== undefined) assert.equal(response.body, body, `${method} /lock/foo`);
        if (method === 'POST' && status === 200) {
          const grant = JSON.parse(response.body) as Record<string, unknown>;
          grantToken = Number(grant.token);
          assert.deepEqual(
            { ...grant, token: 0, acquiredAt: '' },
            {
              name: 'foo',
              owner: null,
              token: 0,
              mode: 'exclusive',
              ttlMs: null,
              expiresAt: null,
              acquiredAt: '',
            },
          );
          assert.equal(response.headers['lockd-token'], String(grantToken));
        }
        if (method === 'GET' && status === 200) {
          const view = JSON.parse(response.body) as { holders: Array<{ token: number }> };
          assert.deepEqual(
            view.holders.map((holder) => holder.token),
            [grantToken],
          );
        }
      }
      const badName = await rawRequest(lockd.port, 'POST', '/lock/a%BDb');
      assert.equal(badName.status, 400);
      assert.equal(
        badName.body,
        '{"error":"Name contains non-printable/non-ascii byte 189 at offset 1"}\n',
      );
    } finally {
      await killHard(lockd);
    }
  });

  test('SIGTERM stops gracefully with exit code 0, and the lock survives the restart', async () => {
    const dataDirectory = join(directory.path, 'graceful');
    const first = await startLockd(['--data-dir', dataDirectory]);
    assert.equal((await rawRequest(first.port, 'POST', '/lock/kept')).status, 200);
    first.child.kill('SIGTERM');
    assert.deepEqual(await first.exited, { code: 0, signal: null });
    const second = await startLockd(['--data-dir', dataDirectory]);
    try {
      assert.equal((await rawRequest(second.port, 'GET', '/lock/kept')).status, 200);
    } finally {
      await killHard(second);
    }
  });

  test('kill -9 loses no acknowledged lock: 100 acquired, 30 released, all as acknowledged', async () => {
    const dataDirectory = join(directory.path, 'durable');
    const first = await startLockd(['--data-dir', dataDirectory]);
    const names = Array.from({ length: 100 }, (_, position) => `lock-${position}`);
    const acquired = await Promise.all(
      names.map((name) => rawRequest(first.port, 'POST', `/lock/${name}`)),
    );
    assert.deepEqual(
      acquired.map((response) => response.status),
      names.map(() => 200),
    );
    const released = names.filter((_, position) => position % 10 < 3);
    const releases = await Promise.all(
      released.map((name) => rawRequest(first.port, 'DELETE', `/lock/${name}`)),
    );
    assert.deepEqual(
      releases.map((response) => response.status),
      released.map(() => 200),
    );
    await killHard(first);

    const second = await startLockd(['--data-dir', dataDirectory]);
    try {
      const checks = await Promise.all(
        names.map((name) => rawRequest(second.port, 'GET', `/lock/${name}`)),
      );
      const expected = names.map((name) => (released.includes(name) ? 404 : 200));
      assert.deepEqual(
        checks.map((response) => response.status),
        expected,
      );
      assert.equal((await rawRequest(second.port, 'POST', '/lock/lock-5')).status, 409);
      assert.equal((await rawRequest(second.port, 'POST', '/lock/lock-0')).status, 200);
    } finally {
      await killHard(second);
    }
  });

  test("the seed's -cluster file with one member: the node listens on its own entry", async () => {
    const port = await findFreePort();
    const clusterFile = join(directory.path, '1node.json');
    writeFileSync(clusterFile, JSON.stringify({ 7: `127.0.0.1:${port}` }));
    const lockd = await startLockd(['-cluster', clusterFile, '-id', '7', '--in-memory'], {
      chooseListen: false,
    });
    try {
      assert.equal(lockd.port, port);
      assert.equal((await rawRequest(port, 'POST', '/lock/from-cluster-file')).status, 200);
    } finally {
      await killHard(lockd);
    }
    const missing = spawnSync(process.execPath, [cliPath, '-cluster', clusterFile, '-id', '2'], {
      encoding: 'utf8',
    });
    assert.equal(missing.status, 2);
    assert.equal(missing.stderr, `lockd: -id 2 is not in cluster file ${clusterFile}\n`);
  });

  test('a bad flag prints one line and exits 2; --help lists the flags and exits 0', () => {
    const bad = spawnSync(process.execPath, [cliPath, '--nope'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.equal(bad.stderr, "lockd: unknown flag '--nope' (see --help)\n");
    const help = spawnSync(process.execPath, [cliPath, '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0);
    for (const flag of [
      '--listen',
      '--data-dir',
      '--in-memory',
      '--log-level',
      '--cluster',
      '--id',
    ]) {
      assert.ok(help.stdout.includes(flag), `--help mentions ${flag}`);
    }
  });

  test('a data directory in use by a running node is refused', async () => {
    const dataDirectory = join(directory.path, 'shared');
    const first = await startLockd(['--data-dir', dataDirectory]);
    try {
      const second = spawnSync(
        process.execPath,
        [cliPath, '--listen', '127.0.0.1:0', '--data-dir', dataDirectory],
        {
          encoding: 'utf8',
          timeout: 15_000,
        },
      );
      assert.equal(second.status, 1);
      assert.match(second.stderr, /^lockd: .+\n$/);
    } finally {
      await killHard(first);
    }
  });
});
