/**
 * Real multi-process clusters for tests: every node a `lockd` child process on 127.0.0.1 with
 * free client and peer ports, its own data directory, a shared secret, and fault injection on.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterStatus } from '../../src/api/cluster-service.js';
import {
  findFreePorts,
  killHard,
  type LockdProcess,
  type RawResponse,
  rawRequest,
  startLockd,
} from './lockd-process.js';

export const testSecret = 'test-cluster-secret-0123456789';

export interface TestNode {
  readonly id: number;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDirectory: string;
  process: LockdProcess | undefined;
}

export interface TestCluster {
  readonly nodes: TestNode[];
  readonly clusterFile: string;
  node(id: number): TestNode;
  start(id: number, extraArgs?: readonly string[]): Promise<void>;
  kill(id: number): Promise<void>;
  stopAll(): Promise<void>;
  /** Bounded wait until a running node reports a leader that every running node agrees on. */
  waitForLeader(options?: {
    readonly excluding?: readonly number[];
    readonly timeoutMs?: number;
  }): Promise<number>;
  /** Cuts node `id` off from the others (both directions), or heals it with an empty list. */
  isolate(id: number, from: readonly number[]): Promise<void>;
}

type ClusterStatusBody = ClusterStatus;

export async function clusterStatus(port: number): Promise<ClusterStatusBody | undefined> {
  try {
    const response = await rawRequest(port, 'GET', '/cluster');
    return response.status === 200 ? (JSON.parse(response.body) as ClusterStatusBody) : undefined;
  } catch {
    return undefined;
  }
}

export async function makeTestCluster(
  directory: string,
  size: number,
  extraArgs: readonly string[] = [],
): Promise<TestCluster> {
  const nodes: TestNode[] = [];
  const members: Record<string, { client: string; peer: string }> = {};
  const ports = await findFreePorts(2 * size);
  for (let id = 1; id <= size; id++) {
    const clientPort = ports[2 * (id - 1)];
    const peerPort = ports[2 * (id - 1) + 1];
    if (clientPort === undefined || peerPort === undefined) throw new Error('too few free ports');
    nodes.push({
      id,
      clientPort,
      peerPort,
      dataDirectory: join(directory, `node-${id}`),
      process: undefined,
    });
    members[String(id)] = { client: `127.0.0.1:${clientPort}`, peer: `127.0.0.1:${peerPort}` };
  }
  const clusterFile = join(directory, 'cluster.json');
  writeFileSync(clusterFile, JSON.stringify(members));
  const node = (id: number): TestNode => {
    const found = nodes.find((candidate) => candidate.id === id);
    if (found === undefined) throw new Error(`no node ${id}`);
    return found;
  };
  const cluster: TestCluster = {
    nodes,
    clusterFile,
    node,
    async start(id, moreArgs = []) {
      const target = node(id);
      target.process = await startLockd(
        [
          '-cluster',
          clusterFile,
          '-id',
          String(id),
          '--data-dir',
          target.dataDirectory,
          '--cluster-secret',
          testSecret,
          '--enable-fault-injection',
          ...extraArgs,
          ...moreArgs,
        ],
        { chooseListen: false },
      );
    },
    async kill(id) {
      const target = node(id);
      if (target.process !== undefined) await killHard(target.process);
      target.process = undefined;
    },
    async stopAll() {
      await Promise.all(nodes.map((each) => cluster.kill(each.id)));
    },
    async waitForLeader(options = {}) {
      const deadline = Date.now() + (options.timeoutMs ?? 15_000);
      // Polling is the only way to observe another process's Raft role; the loop is bounded.
      while (Date.now() < deadline) {
        const running = nodes.filter(
          (each) => each.process !== undefined && !(options.excluding ?? []).includes(each.id),
        );
        const statuses = await Promise.all(running.map((each) => clusterStatus(each.clientPort)));
        const leaders = new Set(statuses.map((status) => status?.leader ?? null));
        const [leader] = [...leaders];
        if (
          leaders.size === 1 &&
          leader !== null &&
          leader !== undefined &&
          !(options.excluding ?? []).includes(leader)
        )
          return leader;
        await new Promise((resolveDelay) => setTimeout(resolveDelay, 50));
      }
      throw new Error('no leader agreed on in time');
    },
    async isolate(id, from) {
      const response = await rawRequestWithAuth(
        node(id).clientPort,
        'POST',
        '/debug/faults',
        JSON.stringify({ isolatedFrom: from }),
      );
      if (response.status !== 200)
        throw new Error(`isolating node ${id} failed: ${response.status} ${response.body}`);
    },
  };
  return cluster;
}

/** A request with the cluster secret as bearer token and a JSON body. */
export function rawRequestWithAuth(
  port: number,
  method: string,
  path: string,
  body: string,
): Promise<RawResponse> {
  return rawRequest(port, method, path, body, {
    authorization: `Bearer ${testSecret}`,
    'content-type': 'application/json',
  });
}
