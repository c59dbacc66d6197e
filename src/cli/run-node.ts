import { createHash, randomInt } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import type { ClusterStatus } from '../api/cluster-service.js';
import { buildServer } from '../api/server.js';
import { type ClusterOptions, LockNode, type MemberAddresses } from '../node/lock-node.js';
import { LmdbStorage, lmdbLayout } from '../storage/lmdb-storage.js';
import { MemoryStorage } from '../storage/memory-storage.js';
import type { RaftStorage } from '../storage/storage.js';
import { walDirectoryName } from '../storage/wal-segments.js';
import { WalStorage } from '../storage/wal-storage.js';
import { type Address, formatAddress } from '../util/address.js';
import { type CliOptions, parseAddress, type StorageKind, UsageError } from './arguments.js';
import { peerPortOffset, readClusterFile } from './cluster-file.js';

/** Raft timing: 100 ms ticks, elections after 1–2 s of silence, heartbeats every tick. */
const tickMs = 100;
const electionTicks = 10;
const heartbeatTicks = 1;
/** How long a graceful stop may take before the process exits anyway. */
const shutdownTimeoutMs = 10_000;
const joinTimeoutMs = 60_000;

interface Topology {
  readonly id: number;
  readonly listen: Address;
  /** Absent for a single node without a peer link. */
  readonly cluster:
    | {
        readonly self: MemberAddresses;
        readonly members: ReadonlyMap<number, MemberAddresses>;
        readonly join: Address | undefined;
      }
    | undefined;
}

export function resolveTopology(options: CliOptions): Topology {
  const listenFlag =
    options.listen === undefined ? undefined : parseAddress(options.listen, '--listen');
  if (options.join !== undefined && options.id !== undefined) {
    const listen = listenFlag ?? { host: '127.0.0.1', port: 2081 };
    const peer =
      options.peerListen === undefined
        ? { host: listen.host, port: listen.port + peerPortOffset }
        : parseAddress(options.peerListen, '--peer-listen');
    return {
      id: options.id,
      listen,
      cluster: {
        self: { client: listen, peer },
        members: new Map(),
        join: parseAddress(options.join, '--join'),
      },
    };
  }
  if (options.clusterFile === undefined || options.id === undefined) {
    return { id: 1, listen: listenFlag ?? { host: '127.0.0.1', port: 2081 }, cluster: undefined };
  }
  const members = readClusterFile(options.clusterFile);
  const own = members.get(options.id);
  if (own === undefined)
    throw new UsageError(`-id ${options.id} is not in cluster file ${options.clusterFile}`);
  const listen = listenFlag ?? own.client;
  // The seed's one-member file runs as before: a single node with no peer link.
  if (members.size === 1) return { id: options.id, listen, cluster: undefined };
  const peer =
    options.peerListen === undefined ? own.peer : parseAddress(options.peerListen, '--peer-listen');
  return {
    id: options.id,
    listen,
    cluster: { self: { client: own.client, peer }, members, join: undefined },
  };
}

/**
 * The cluster secret: a flag, a file or LOCKD_CLUSTER_SECRET. Without one, a key derived from the
 * cluster file still keeps out nodes of other clusters and garbage, but not a stranger who has
 * the file: the node warns.
 */
function resolveSecret(options: CliOptions): {
  secret: Uint8Array;
  configured: string | undefined;
} {
  let configured = options.clusterSecret ?? process.env.LOCKD_CLUSTER_SECRET;
  if (options.clusterSecretFile !== undefined) {
    try {
      configured = readFileSync(options.clusterSecretFile, 'utf8').trim();
    } catch (error) {
      throw new UsageError(`cannot read --cluster-secret-file: ${(error as Error).message}`);
    }
  }
  if (configured !== undefined && configured.length < 16) {
    throw new UsageError('the cluster secret must be at least 16 characters');
  }
  if (configured !== undefined) return { secret: Buffer.from(configured), configured };
  const derivedFrom =
    options.clusterFile === undefined ? 'lockd' : readFileSync(options.clusterFile);
  return {
    secret: createHash('sha256').update('lockd-cluster-file:').update(derivedFrom).digest(),
    configured: undefined,
  };
}

async function openStorage(options: CliOptions, logger: pino.Logger): Promise<RaftStorage> {
  if (options.inMemory) return new MemoryStorage();
  const dataDirectory = resolve(options.dataDirectory);
  const kind = chooseStorageKind(dataDirectory, options.storage);
  if (kind === 'lmdb') return LmdbStorage.open(dataDirectory);
  const storage = await WalStorage.open(dataDirectory);
  const torn = storage.tornWriteRecovered;
  if (torn !== undefined) {
    // Never acknowledged (a save resolves after its fsync), so nothing promised is lost.
    logger.warn(
      { segment: torn.sequence, offsetBytes: torn.offsetBytes, droppedBytes: torn.droppedBytes },
      `the log ended in a write cut short by a crash; it was dropped: ${torn.reason}`,
    );
  }
  return storage;
}

/**
 * The log format of a data directory: the one it holds (a directory written by an older lockd
 * holds LMDB's raft.mdb and keeps it, with no migration), else the one asked for, else the WAL.
 */
export function chooseStorageKind(
  dataDirectory: string,
  requested: StorageKind | undefined,
): StorageKind {
  const holdsLmdb = existsSync(join(dataDirectory, lmdbLayout.environmentFileName));
  const holdsWal = existsSync(join(dataDirectory, walDirectoryName));
  if (holdsLmdb && holdsWal) {
    throw new UsageError(
      `${dataDirectory} holds both an LMDB log (${lmdbLayout.environmentFileName}) and a WAL (${walDirectoryName}/): lockd cannot tell which is this node's log`,
    );
  }
  const held: StorageKind | undefined = holdsLmdb ? 'lmdb' : holdsWal ? 'wal' : undefined;
  if (held !== undefined && requested !== undefined && held !== requested) {
    throw new UsageError(
      `--storage ${requested}: ${dataDirectory} already holds a log in the ${held} format, which lockd does not convert`,
    );
  }
  return held ?? requested ?? 'wal';
}

/** Starts one lockd node and serves until SIGTERM or SIGINT. */
export async function runNode(options: CliOptions, version: string): Promise<void> {
  const topology = resolveTopology(options);
  const logger = pino({ level: options.logLevel, base: { node: topology.id } });
  const { secret, configured } = resolveSecret(options);
  if (topology.cluster !== undefined && configured === undefined) {
    logger.warn(
      {},
      'no --cluster-secret: the peer link is keyed by the cluster file only; set a secret in production',
    );
  }
  const cluster: ClusterOptions | undefined =
    topology.cluster === undefined
      ? undefined
      : {
          self: topology.cluster.self,
          members: topology.cluster.members,
          secret,
          allowFaultInjection: options.enableFaultInjection,
        };
  const node = await LockNode.start({
    id: topology.id,
    ...(cluster === undefined ? {} : { cluster }),
    storage: await openStorage(options, logger),
    tickMs,
    electionTicks,
    heartbeatTicks,
    seed: randomInt(2 ** 31),
    logger,
    clock: Date.now,
    limits: options.limits,
    snapshotEvery: options.snapshotEvery,
    requestTimeoutMs: options.requestTimeoutMs,
    onFatal: (error) => {
      logger.fatal({ err: error }, 'lockd stops: the node cannot continue safely');
      process.exit(1);
    },
  });
  const app = buildServer({
    service: node,
    requestTimeoutMs: options.requestTimeoutMs,
    logger,
    maxBodyBytes: options.maxBodyBytes,
    cluster: {
      cluster: node,
      adminToken: configured,
      faultInjection: options.enableFaultInjection,
    },
  });
  try {
    await app.listen({ host: topology.listen.host, port: topology.listen.port });
  } catch (error) {
    await node.stop();
    throw new Error(
      `cannot listen on ${formatAddress(topology.listen)}: ${(error as Error).message}`,
    );
  }
  installSignalHandlers(async () => {
    await app.close();
    await node.stop();
  }, logger);
  if (topology.cluster?.join !== undefined)
    await joinCluster(node, topology.cluster.join, topology.cluster.self, topology.id, configured);
  const address = app.server.address();
  const port =
    typeof address === 'object' && address !== null ? address.port : topology.listen.port;
  logger.info(
    {
      version,
      id: topology.id,
      port,
      url: `http://${formatAddress({ host: topology.listen.host, port })}`,
      dataDirectory: options.inMemory ? null : resolve(options.dataDirectory),
      peerPort: topology.cluster === undefined ? null : node.peerPort,
    },
    'lockd ready',
  );
}

/**
 * Joins a running cluster: learns its members from `GET /cluster` on the given member (so that
 * this node accepts their peer connections), then asks it to add this node; the leader adds it
 * as a learner, lets it catch up, and promotes it.
 */
async function joinCluster(
  node: LockNode,
  via: Address,
  self: MemberAddresses,
  id: number,
  token: string | undefined,
): Promise<void> {
  const base = `http://${formatAddress(via)}`;
  const current = (await fetchJson(`${base}/cluster`, { method: 'GET' })) as ClusterStatus;
  node.learnMembers(
    current.members.map(({ id: memberId, clientAddress, peerAddress }) => ({
      id: memberId,
      clientAddress,
      peerAddress,
    })),
  );
  const body = JSON.stringify({
    id,
    clientAddress: formatAddress(self.client),
    peerAddress: formatAddress({ host: self.peer.host, port: node.peerPort }),
  });
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const joined = (await fetchJson(`${base}/cluster/members`, {
    method: 'POST',
    body,
    headers,
  })) as ClusterStatus;
  node.learnMembers(
    joined.members.map(({ id: memberId, clientAddress, peerAddress }) => ({
      id: memberId,
      clientAddress,
      peerAddress,
    })),
  );
}

async function fetchJson(url: string, init: RequestInit): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(joinTimeoutMs) });
  } catch (error) {
    throw new Error(`cannot join through ${url}: ${(error as Error).message}`);
  }
  const text = await response.text();
  if (!response.ok)
    throw new Error(`cannot join through ${url}: ${response.status} ${text.trim()}`);
  return JSON.parse(text) as unknown;
}

function installSignalHandlers(stop: () => Promise<void>, logger: pino.Logger): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'stopping: no new requests, finishing those in flight');
    setTimeout(() => {
      logger.error({ timeoutMs: shutdownTimeoutMs }, 'graceful stop took too long: exiting');
      process.exit(1);
    }, shutdownTimeoutMs).unref();
    stop().then(
      () => {
        logger.info({}, 'lockd stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
