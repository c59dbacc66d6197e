import { randomInt } from 'node:crypto';
import { resolve } from 'node:path';
import { pino } from 'pino';
import { buildServer } from '../api/server.js';
import { LockNode } from '../node/lock-node.js';
import { LmdbStorage } from '../storage/lmdb-storage.js';
import { MemoryStorage } from '../storage/memory-storage.js';
import type { RaftStorage } from '../storage/storage.js';
import { type Address, type CliOptions, parseAddress, UsageError } from './arguments.js';
import { readClusterFile } from './cluster-file.js';

/** Raft timing: 100 ms ticks, elections after 1–2 s of silence, heartbeats every tick. */
const tickMs = 100;
const electionTicks = 10;
const heartbeatTicks = 1;
/** How long a graceful stop may take before the process exits anyway. */
const shutdownTimeoutMs = 10_000;

interface Topology {
  readonly id: number;
  readonly members: readonly number[];
  readonly listen: Address;
}

export function resolveTopology(options: CliOptions): Topology {
  if (options.clusterFile === undefined || options.id === undefined) {
    return {
      id: 1,
      members: [1],
      listen: parseAddress(options.listen ?? '127.0.0.1:2081', '--listen'),
    };
  }
  const members = readClusterFile(options.clusterFile);
  const own = members.get(options.id);
  if (own === undefined) {
    throw new UsageError(`-id ${options.id} is not in cluster file ${options.clusterFile}`);
  }
  if (members.size > 1) {
    throw new UsageError(
      `cluster file ${options.clusterFile} names ${members.size} members, but this build runs single-node clusters only`,
    );
  }
  const listen =
    options.listen === undefined ? own.client : parseAddress(options.listen, '--listen');
  return { id: options.id, members: [...members.keys()], listen };
}

/** Starts one lockd node and serves until SIGTERM or SIGINT. */
export async function runNode(options: CliOptions, version: string): Promise<void> {
  const topology = resolveTopology(options);
  const logger = pino({ level: options.logLevel, base: { node: topology.id } });
  const dataDirectory = resolve(options.dataDirectory);
  const storage: RaftStorage = options.inMemory
    ? new MemoryStorage()
    : await LmdbStorage.open(dataDirectory);
  const node = await LockNode.start({
    id: topology.id,
    members: topology.members,
    storage,
    tickMs,
    electionTicks,
    heartbeatTicks,
    seed: randomInt(2 ** 31),
    logger,
    clock: Date.now,
    limits: options.limits,
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
  });
  try {
    await app.listen({ host: topology.listen.host, port: topology.listen.port });
  } catch (error) {
    await node.stop();
    throw new Error(
      `cannot listen on ${topology.listen.host}:${topology.listen.port}: ${(error as Error).message}`,
    );
  }
  const address = app.server.address();
  const port =
    typeof address === 'object' && address !== null ? address.port : topology.listen.port;
  logger.info(
    {
      version,
      id: topology.id,
      port,
      url: `http://${formatHost(topology.listen.host)}:${port}`,
      dataDirectory: options.inMemory ? null : dataDirectory,
    },
    'lockd ready',
  );
  installSignalHandlers(async () => {
    await app.close();
    await node.stop();
  }, logger);
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
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
