import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { UsageError } from '../../src/cli/arguments.js';
import { parseLocalClusterArguments } from '../../src/cli/local-cluster.js';
import {
  cliPath,
  findFreePort,
  makeTemporaryDirectory,
  rawRequest,
} from '../support/lockd-process.js';

test('lockd cluster: flags and their bounds', () => {
  assert.deepEqual(
    parseLocalClusterArguments(['--nodes', '5', '--base-port=3000', '--dir', '/tmp/x']),
    {
      nodes: 5,
      basePort: 3000,
      directory: '/tmp/x',
    },
  );
  assert.throws(
    () => parseLocalClusterArguments(['--nodes', '2']),
    new UsageError('lockd cluster: --nodes must be 1, 3, 5 or 7'),
  );
  assert.throws(() => parseLocalClusterArguments(['--bogus']), UsageError);
});

test('lockd cluster --nodes 3 starts three nodes, names the leader, serves, and stops on SIGINT', async () => {
  const directory = makeTemporaryDirectory();
  // Three consecutive client ports and their peer ports (+1000) must be free: the system's pick
  // for one port is the best guess available without reserving them.
  const basePort = await findFreePort();
  const child = spawn(
    process.execPath,
    [cliPath, 'cluster', '--nodes', '3', '--base-port', String(basePort), '--dir', directory.path],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  try {
    const leaderLine = await new Promise<string>((resolveLine, rejectLine) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line);
        if (line.startsWith('leader:') || line.startsWith('no leader')) resolveLine(line);
      });
      child.once('exit', (code) =>
        rejectLine(new Error(`lockd cluster exited ${code}: ${lines.join('\n')}`)),
      );
    });
    assert.match(leaderLine, /^leader: node [123] at http:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(
      lines.slice(0, 3).map((line) => line.replace(/\(.*\)/, '()')),
      [
        `node 1: http://127.0.0.1:${basePort} ()`,
        `node 2: http://127.0.0.1:${basePort + 1} ()`,
        `node 3: http://127.0.0.1:${basePort + 2} ()`,
      ],
    );
    assert.equal((await rawRequest(basePort + 2, 'POST', '/lock/from-local-cluster')).status, 200);
    assert.deepEqual(
      Object.keys(JSON.parse(readFileSync(join(directory.path, 'cluster.json'), 'utf8'))),
      ['1', '2', '3'],
    );
    const exited = new Promise<number | null>((resolveExit) =>
      child.once('exit', (code) => resolveExit(code)),
    );
    child.kill('SIGINT');
    assert.equal(await exited, 0);
  } finally {
    child.kill('SIGKILL');
    directory.remove();
  }
});
