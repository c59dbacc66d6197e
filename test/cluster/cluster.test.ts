/**
 * Three real lockd processes on 127.0.0.1: writes and reads through every node, kill -9 of the
 * leader and of everyone, a partition of the leader, and catch-up by snapshot. Each test bounds
 * its waits; a failure prints the nodes' logs.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import {
  clusterStatus,
  makeTestCluster,
  rawRequestWithAuth,
  type TestCluster,
  testSecret,
} from '../support/cluster.js';
import {
  findFreePorts,
  killHard,
  makeTemporaryDirectory,
  rawRequest,
  startLockd,
} from '../support/lockd-process.js';

const directory = makeTemporaryDirectory();
after(() => directory.remove());

let current: TestCluster | undefined;
afterEach(async (context) => {
  if (current === undefined) return;
  if (context.signal.aborted || process.exitCode) {
    for (const node of current.nodes)
      process.stderr.write(
        `--- node ${node.id}\n${node.process?.output.slice(-40).join('\n') ?? '(stopped)'}\n`,
      );
  }
  await current.stopAll();
  current = undefined;
});

let clusterCount = 0;
async function startCluster(size = 3, extraArgs: readonly string[] = []): Promise<TestCluster> {
  clusterCount++;
  const clusterDirectory = join(directory.path, String(clusterCount));
  mkdirSync(clusterDirectory);
  const cluster = await makeTestCluster(clusterDirectory, size, extraArgs);
  current = cluster;
  await Promise.all(cluster.nodes.map((node) => cluster.start(node.id)));
  return cluster;
}

function port(cluster: TestCluster, id: number): number {
  return cluster.node(id).clientPort;
}

describe('a 3-node cluster of real processes', () => {
  test('writes through every node; reads through every node see them', async () => {
    const cluster = await startCluster();
    const leader = await cluster.waitForLeader();
    for (const node of cluster.nodes) {
      const response = await rawRequest(node.clientPort, 'POST', `/lock/written-via-${node.id}`);
      assert.equal(response.status, 200, `POST via node ${node.id}: ${response.body}`);
      // A follower's answer names the leader, so that a client can send its writes there.
      const named = node.id === leader ? undefined : `127.0.0.1:${port(cluster, leader)}`;
      assert.equal(response.headers['lockd-leader'], named, `Lockd-Leader via node ${node.id}`);
    }
    for (const reader of cluster.nodes) {
      for (const writer of cluster.nodes) {
        const response = await rawRequest(
          reader.clientPort,
          'GET',
          `/lock/written-via-${writer.id}`,
        );
        assert.equal(response.status, 200, `GET of node ${writer.id}'s lock via node ${reader.id}`);
      }
    }
    assert.equal((await rawRequest(port(cluster, 2), 'POST', '/lock/written-via-1')).status, 409);
    const tokens = new Set<string>();
    for (const node of cluster.nodes) {
      const response = await rawRequest(node.clientPort, 'POST', `/lock/token-${node.id}`);
      tokens.add(String(response.headers['lockd-token']));
    }
    assert.equal(tokens.size, 3, 'fencing tokens are unique across nodes');
  });

  test('kill -9 of the leader: a new leader serves, every acknowledged lock is held, the old leader catches up', async () => {
    const cluster = await startCluster();
    const leader = await cluster.waitForLeader();
    const follower = cluster.nodes.find((node) => node.id !== leader)?.id ?? 0;
    const acknowledged: string[] = [];
    for (let index = 0; index < 20; index++) {
      const response = await rawRequest(
        port(cluster, leader),
        'POST',
        `/lock/before-crash-${index}`,
      );
      if (response.status === 200) acknowledged.push(`before-crash-${index}`);
    }
    assert.equal(acknowledged.length, 20);
    await cluster.kill(leader);
    const startedMs = Date.now();
    const newLeader = await cluster.waitForLeader({ excluding: [leader], timeoutMs: 10_000 });
    assert.notEqual(newLeader, leader);
    const write = await rawRequest(port(cluster, follower), 'POST', '/lock/after-crash');
    assert.equal(write.status, 200, write.body);
    process.stdout.write(`# new leader serving ${Date.now() - startedMs} ms after kill -9\n`);
    for (const name of acknowledged) {
      assert.equal(
        (await rawRequest(port(cluster, follower), 'GET', `/lock/${name}`)).status,
        200,
        name,
      );
    }
    await cluster.start(leader);
    const caughtUp = await rawRequest(port(cluster, leader), 'GET', '/lock/after-crash');
    assert.equal(
      caughtUp.status,
      200,
      'the restarted node serves the write made while it was down',
    );
  });

  test('kill -9 of all three, then restart: acknowledged locks held, released ones not', async () => {
    const cluster = await startCluster();
    const leader = await cluster.waitForLeader();
    for (let index = 0; index < 30; index++) {
      const via = cluster.nodes[index % 3]?.clientPort ?? 0;
      assert.equal((await rawRequest(via, 'POST', `/lock/durable-${index}`)).status, 200);
    }
    for (let index = 0; index < 30; index += 3) {
      assert.equal(
        (await rawRequest(port(cluster, leader), 'DELETE', `/lock/durable-${index}`)).status,
        200,
      );
    }
    await cluster.stopAll();
    await Promise.all(cluster.nodes.map((node) => cluster.start(node.id)));
    await cluster.waitForLeader();
    for (let index = 0; index < 30; index++) {
      const expected = index % 3 === 0 ? 404 : 200;
      assert.equal(
        (await rawRequest(port(cluster, 1 + (index % 3)), 'GET', `/lock/durable-${index}`)).status,
        expected,
        `durable-${index}`,
      );
    }
  });

  test('a partitioned leader: the majority elects and serves, the minority answers 503, no divergence after healing', async () => {
    const cluster = await startCluster(3, ['--request-timeout-ms', '1500']);
    const leader = await cluster.waitForLeader();
    const others = cluster.nodes.map((node) => node.id).filter((id) => id !== leader);
    assert.equal(
      (await rawRequest(port(cluster, leader), 'POST', '/lock/before-partition')).status,
      200,
    );
    await cluster.isolate(leader, others);
    for (const id of others) await cluster.isolate(id, [leader]);
    const majorityLeader = await cluster.waitForLeader({ excluding: [leader], timeoutMs: 10_000 });
    assert.ok(others.includes(majorityLeader));
    assert.equal(
      (await rawRequest(port(cluster, majorityLeader), 'POST', '/lock/during-partition')).status,
      200,
    );
    const minorityWrite = await rawRequest(port(cluster, leader), 'POST', '/lock/minority-write');
    assert.equal(minorityWrite.status, 503, minorityWrite.body);
    assert.ok(minorityWrite.headers['retry-after'] !== undefined);
    const minorityRead = await rawRequest(port(cluster, leader), 'GET', '/lock/during-partition');
    assert.equal(
      minorityRead.status,
      503,
      `a linearizable read on the minority: ${minorityRead.body}`,
    );
    const staleRead = await rawRequest(
      port(cluster, leader),
      'GET',
      '/lock/before-partition?stale=true',
    );
    assert.equal(staleRead.status, 200, 'a stale read answers from local state');
    for (const node of cluster.nodes) await cluster.isolate(node.id, []);
    await cluster.waitForLeader();
    for (const node of cluster.nodes) {
      assert.equal(
        (await rawRequest(node.clientPort, 'GET', '/lock/during-partition')).status,
        200,
        `node ${node.id}`,
      );
      assert.equal(
        (await rawRequest(node.clientPort, 'GET', '/lock/minority-write')).status,
        404,
        `node ${node.id}`,
      );
    }
  });

  test('a node that was down while the others compacted catches up by snapshot', async () => {
    const cluster = await startCluster(3, ['--snapshot-every', '20']);
    const leader = await cluster.waitForLeader();
    const lagging = cluster.nodes.find((node) => node.id !== leader)?.id ?? 0;
    await cluster.kill(lagging);
    for (let index = 0; index < 60; index++) {
      assert.equal(
        (await rawRequest(port(cluster, leader), 'POST', `/lock/compacted-${index}`)).status,
        200,
      );
    }
    const leaderStatus = await clusterStatus(port(cluster, leader));
    assert.ok(leaderStatus !== undefined);
    await cluster.start(lagging);
    const read = await rawRequest(port(cluster, lagging), 'GET', '/lock/compacted-0');
    assert.equal(read.status, 200);
    const laggingStatus = await clusterStatus(port(cluster, lagging));
    assert.ok((laggingStatus?.appliedIndex ?? 0) >= leaderStatus.commitIndex);
  });

  test('random bytes and an unauthenticated peer on the peer port change nothing', async () => {
    const cluster = await startCluster();
    const leader = await cluster.waitForLeader();
    const before = await clusterStatus(port(cluster, leader));
    for (const node of cluster.nodes) {
      await new Promise<void>((resolveDone) => {
        const socket = connect({ host: '127.0.0.1', port: node.peerPort });
        socket.on('error', () => resolveDone());
        socket.on('close', () => resolveDone());
        socket.on('connect', () =>
          socket.write(Buffer.from('\x00\x00\x00\x10garbage garbage garbage')),
        );
      });
    }
    const after = await clusterStatus(port(cluster, leader));
    assert.equal(after?.leader, before?.leader);
    assert.equal((await rawRequest(port(cluster, leader), 'POST', '/lock/still-fine')).status, 200);
  });

  test('a 4th node joins through any member, serves, and members (the leader too) can be removed', async () => {
    const cluster = await startCluster();
    await cluster.waitForLeader();
    assert.equal((await rawRequest(port(cluster, 2), 'POST', '/lock/before-join')).status, 200);
    const ports = await findFreePorts(2);
    const clientPort = ports[0] ?? assert.fail('no client port');
    const peerPort = ports[1] ?? assert.fail('no peer port');
    const joiner = await startLockd(
      [
        '--join',
        `127.0.0.1:${port(cluster, 2)}`,
        '-id',
        '4',
        '--listen',
        `127.0.0.1:${clientPort}`,
        '--peer-listen',
        `127.0.0.1:${peerPort}`,
        '--data-dir',
        join(directory.path, `joiner-${clusterCount}`),
        '--cluster-secret',
        testSecret,
      ],
      { chooseListen: false, readyTimeoutMs: 60_000 },
    );
    try {
      const status = await clusterStatus(clientPort);
      assert.deepEqual(
        status?.members
          .map((member) => [member.id, member.role === 'learner' ? 'learner' : 'voter'])
          .sort(),
        [
          [1, 'voter'],
          [2, 'voter'],
          [3, 'voter'],
          [4, 'voter'],
        ],
      );
      assert.equal(
        (await rawRequest(clientPort, 'GET', '/lock/before-join')).status,
        200,
        'the new node has the old state',
      );
      assert.equal((await rawRequest(clientPort, 'POST', '/lock/via-new-node')).status, 200);

      const unauthorized = await rawRequest(port(cluster, 1), 'DELETE', '/cluster/members/3');
      assert.equal(unauthorized.status, 401);
      const removed = await rawRequestWithAuth(
        port(cluster, 1),
        'DELETE',
        '/cluster/members/3',
        '',
      );
      assert.equal(removed.status, 200, removed.body);
      await cluster.kill(3);
      const leader = await cluster.waitForLeader({ excluding: [3] });
      const removedLeader = await rawRequestWithAuth(
        clientPort,
        'DELETE',
        `/cluster/members/${leader}`,
        '',
      );
      assert.equal(removedLeader.status, 200, removedLeader.body);
      const survivors = [1, 2, 4].filter((id) => id !== leader);
      const newLeader = await waitForLeaderAmong(
        survivors.map((id) => (id === 4 ? clientPort : port(cluster, id))),
      );
      assert.ok(
        survivors.includes(newLeader),
        `leader ${newLeader} is one of ${survivors.join(', ')}`,
      );
      for (const id of survivors) {
        const via = id === 4 ? clientPort : port(cluster, id);
        assert.equal(
          (await rawRequest(via, 'GET', '/lock/via-new-node')).status,
          200,
          `node ${id}`,
        );
        assert.equal(
          (await rawRequest(via, 'POST', `/lock/after-removals-${id}`)).status,
          200,
          `node ${id}`,
        );
      }
    } finally {
      await killHard(joiner);
    }
  });
});

/** Bounded wait until every given node names the same leader. */
async function waitForLeaderAmong(ports: readonly number[]): Promise<number> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const leaders = new Set(
      (await Promise.all(ports.map((each) => clusterStatus(each)))).map(
        (status) => status?.leader ?? null,
      ),
    );
    const [leader] = [...leaders];
    if (leaders.size === 1 && typeof leader === 'number') return leader;
    await new Promise((resolveDelay) => setTimeout(resolveDelay, 50));
  }
  throw new Error('no leader agreed on in time');
}
