/**
 * etcd as a benchmark target: etcd-server from Debian, one node or a cluster on 127.0.0.1, with
 * its default durability (the WAL is fsync'd before a write is answered; this script never passes
 * --unsafe-no-fsync). Locks are etcd's own lock service (v3lock) through its HTTP/JSON gateway:
 * each worker grants one lease, then every pair is a lock call (which blocks until the lock is
 * held, so contended workers queue in creation order) and an unlock call.
 */
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createWorkerConnection, type HttpReply, type WorkerConnection } from '../http.js';
import type { LockSession, PairOutcome } from '../load.js';
import { freePorts, pidsOf, pollUntil, spawnTracked, stopProcess } from '../processes.js';
import {
  type Deployment,
  nodesLabel,
  type Placement,
  placementsFor,
  portFor,
  type SessionOptions,
  type Target,
} from './target.js';

/** etcd 3.4 serves the gateway at /v3/ and /v3beta/, 3.3 at /v3beta/, 3.2 at /v3alpha/. */
const gatewayPrefixes = ['/v3/', '/v3beta/', '/v3alpha/'] as const;
const startTimeoutMs = 30_000;
/** Longer than lockd's and Redis's contended wait, so a queued lock call is not cut short. */
const requestTimeoutMs = 30_000;
const probeTimeoutMs = 1000;

interface Member {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
}

interface EtcdStatus {
  readonly header?: { readonly member_id?: string };
  readonly leader?: string;
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function errorOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: string; message?: string };
    return parsed.error ?? parsed.message ?? body;
  } catch {
    return body;
  }
}

class EtcdSession implements LockSession {
  constructor(
    private readonly connection: WorkerConnection,
    private readonly prefix: string,
    /** A 64-bit id, kept as the decimal string the gateway sends: a JS number would round it. */
    private readonly leaseId: string,
  ) {}

  static async open(port: number, prefix: string, options: SessionOptions): Promise<EtcdSession> {
    const connection = createWorkerConnection(port);
    const ttlSeconds = Math.ceil(options.leaseMs / 1000);
    let leaseId: string | undefined;
    try {
      const grant = await post(connection, `${prefix}lease/grant`, { TTL: ttlSeconds });
      leaseId = grant.status === 200 ? (JSON.parse(grant.body) as { ID?: string }).ID : undefined;
      if (typeof leaseId !== 'string')
        throw new Error(`etcd lease grant answered ${grant.status} ${errorOf(grant.body)}`);
    } catch (error) {
      connection.close();
      throw error;
    }
    return new EtcdSession(connection, prefix, leaseId);
  }

  async acquireAndRelease(name: string): Promise<PairOutcome> {
    const lockBody = { name: base64(name), lease: this.leaseId };
    const locked = await post(this.connection, `${this.prefix}lock/lock`, lockBody);
    const key = locked.status === 200 ? (JSON.parse(locked.body) as { key?: string }).key : '';
    if (typeof key !== 'string' || key === '')
      return { ok: false, error: `etcd lock answered ${locked.status} ${errorOf(locked.body)}` };
    const unlocked = await post(this.connection, `${this.prefix}lock/unlock`, { key });
    if (unlocked.status !== 200)
      return {
        ok: false,
        error: `etcd unlock answered ${unlocked.status} ${errorOf(unlocked.body)}`,
      };
    return { ok: true, retries: 0 };
  }

  async close(): Promise<void> {
    // Revoking is hygiene only (the cluster is thrown away next), so a failure is ignored.
    await post(this.connection, `${this.prefix}lease/revoke`, { ID: this.leaseId }).catch(
      () => undefined,
    );
    this.connection.close();
  }
}

function post(connection: WorkerConnection, path: string, body: object): Promise<HttpReply> {
  return connection.send({
    method: 'POST',
    path,
    json: JSON.stringify(body),
    readBody: true,
    timeoutMs: requestTimeoutMs,
  });
}

async function makeMembers(nodes: number): Promise<Member[]> {
  const ports = await freePorts(2 * nodes);
  const portAt = (position: number): number => {
    const port = ports[position];
    if (port === undefined) throw new Error(`no free port at ${position}`);
    return port;
  };
  return Array.from({ length: nodes }, (_, offset) => ({
    name: `n${offset + 1}`,
    clientPort: portAt(2 * offset),
    peerPort: portAt(2 * offset + 1),
  }));
}

function memberArguments(member: Member, members: readonly Member[], directory: string): string[] {
  const peerUrl = (port: number): string => `http://127.0.0.1:${port}`;
  const initialCluster = members.map((m) => `${m.name}=${peerUrl(m.peerPort)}`).join(',');
  // One token for the whole cluster (members with different tokens refuse each other), and a
  // new one for each cluster, so that no stray member of an earlier run can join this one.
  const clusterToken = `lockd-bench-${process.pid}-${members[0]?.clientPort ?? 0}`;
  return [
    ...['--name', member.name, '--data-dir', join(directory, member.name)],
    ...['--listen-client-urls', peerUrl(member.clientPort)],
    ...['--advertise-client-urls', peerUrl(member.clientPort)],
    ...['--listen-peer-urls', peerUrl(member.peerPort)],
    ...['--initial-advertise-peer-urls', peerUrl(member.peerPort)],
    ...['--initial-cluster', initialCluster, '--initial-cluster-state', 'new'],
    ...['--initial-cluster-token', clusterToken],
    ...['--logger', 'zap', '--log-outputs', 'stderr', '--log-level', 'warn'],
  ];
}

function startMember(member: Member, members: readonly Member[], directory: string) {
  const logFile = openSync(join(directory, `${member.name}.log`), 'a');
  try {
    return spawnTracked('etcd', memberArguments(member, members, directory), {
      stdio: ['ignore', logFile, logFile],
    });
  } finally {
    closeSync(logFile);
  }
}

/** The end of each member's log, for an error message (the directory is removed afterwards). */
function logTails(members: readonly Member[], directory: string): string {
  const tailChars = 1500;
  return members
    .map((member) => {
      const path = join(directory, `${member.name}.log`);
      let text: string;
      try {
        text = readFileSync(path, 'utf8').slice(-tailChars);
      } catch (error) {
        text = (error as Error).message;
      }
      return `--- ${member.name}.log (end) ---\n${text}`;
    })
    .join('\n');
}

async function statusOf(port: number, prefix: string): Promise<EtcdStatus | undefined> {
  const response = await fetch(`http://127.0.0.1:${port}${prefix}maintenance/status`, {
    method: 'POST',
    body: '{}',
    // Without a leader etcd holds the request open; the poll asks again instead.
    signal: AbortSignal.timeout(probeTimeoutMs),
  });
  if (response.status !== 200) return undefined;
  return (await response.json()) as EtcdStatus;
}

/** The gateway path prefix this etcd answers on, found by asking (the version decides it). */
async function detectPrefix(port: number): Promise<string> {
  return pollUntil({
    what: `etcd's JSON gateway answering at one of ${gatewayPrefixes.join(', ')}`,
    timeoutMs: startTimeoutMs,
    intervalMs: 100,
    probe: async () => {
      for (const prefix of gatewayPrefixes)
        if ((await statusOf(port, prefix)) !== undefined) return prefix;
      return undefined;
    },
  });
}

/** Waits until every member reports the same elected leader; returns that leader's client port. */
async function waitForLeader(members: readonly Member[], prefix: string): Promise<number> {
  return pollUntil({
    what: 'an etcd leader known to every member',
    timeoutMs: startTimeoutMs,
    intervalMs: 100,
    probe: async () => {
      const statuses = await Promise.all(members.map((m) => statusOf(m.clientPort, prefix)));
      const leaders = new Set(statuses.map((status) => status?.leader ?? '0'));
      const [leader] = [...leaders];
      if (leaders.size !== 1 || leader === undefined || leader === '0') return undefined;
      const index = statuses.findIndex((status) => status?.header?.member_id === leader);
      return members[index]?.clientPort;
    },
  });
}

function etcdVariant(options: {
  readonly nodes: number;
  readonly placement: Placement;
  readonly ports: readonly number[];
  readonly leaderPort: number;
  readonly prefix: string;
}): Deployment['variants'][number] {
  const suffix = options.placement === 'single' ? '' : `, ${options.placement}`;
  return {
    label: `etcd ${nodesLabel(options.nodes)} (fsync)${suffix}`,
    placement: options.placement,
    openSession: (session) =>
      EtcdSession.open(
        portFor({ ...options, workerIndex: session.workerIndex }),
        options.prefix,
        session,
      ),
  };
}

export function etcdTarget(nodes: number): Target {
  return {
    system: 'etcd',
    nodes,
    supports: () => true,
    start: async ({ directory }) => {
      const members = await makeMembers(nodes);
      const children = members.map((member) => startMember(member, members, directory));
      const stop = async (): Promise<void> => {
        await Promise.all(children.map((child) => stopProcess(child)));
      };
      try {
        const prefix = await detectPrefix(members[0]?.clientPort ?? 0);
        const leaderPort = await waitForLeader(members, prefix);
        const ports = members.map((member) => member.clientPort);
        const variants = placementsFor(nodes).map((placement) =>
          etcdVariant({ nodes, placement, ports, leaderPort, prefix }),
        );
        return { variants, pids: pidsOf(children), stop };
      } catch (error) {
        await stop();
        throw new Error(`${(error as Error).message}\n${logTails(members, directory)}`);
      }
    },
  };
}
