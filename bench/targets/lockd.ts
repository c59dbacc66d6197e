/**
 * lockd as a benchmark target: a durable node (each write fsync'd before it is answered), or a
 * durable cluster of several on 127.0.0.1, started from the built dist/ like a user would.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createWorkerConnection, type WorkerConnection } from '../http.js';
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

export const repositoryRoot = resolve(import.meta.dirname, '..', '..');
const clusterSecret = 'bench-cluster-secret-0123456789';
const startTimeoutMs = 60_000;
const requestTimeoutMs = 30_000;
/** How long a contended acquire queues on lockd before giving up (it is then an error). */
export const contendedWait = '10s';

export interface NodeProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** From spawn to the "lockd ready" log line. */
  readonly readyMs: number;
}

/**
 * Starts `node <args>` in the repository and resolves when it logs "lockd ready" (lockd and the
 * bare server both do), with the port from that line.
 */
export async function startNodeProcess(
  args: readonly string[],
  timeoutMs: number = startTimeoutMs,
): Promise<NodeProcess> {
  const started = performance.now();
  const child = spawnTracked(process.execPath, args, {
    cwd: repositoryRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const port = await new Promise<number>((resolvePort, rejectPort) => {
      if (child.stdout === null) throw new Error('the child has no stdout pipe');
      // The reader stays attached for the process's life so its log can never fill the pipe.
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (line.includes('"lockd ready"'))
          resolvePort(Number((JSON.parse(line) as { port: number }).port));
      });
      child.once('error', rejectPort);
      child.once('exit', (code, signal) =>
        rejectPort(new Error(`${args.join(' ')} exited with ${code ?? signal} before ready`)),
      );
      timer = setTimeout(
        () => rejectPort(new Error(`${args.join(' ')} not ready within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    return { child, port, readyMs: performance.now() - started };
  } catch (error) {
    await stopProcess(child, 'SIGKILL');
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

export function singleNodeArguments(dataDirectory: string): string[] {
  return ['dist/cli/main.js', '--listen', '127.0.0.1:0', '--data-dir', dataDirectory];
}

async function startCluster(directory: string, nodes: number): Promise<NodeProcess[]> {
  const members: Record<string, { client: string; peer: string }> = {};
  const ports = await freePorts(2 * nodes);
  for (let id = 1; id <= nodes; id++) {
    members[String(id)] = {
      client: `127.0.0.1:${ports[2 * (id - 1)]}`,
      peer: `127.0.0.1:${ports[2 * (id - 1) + 1]}`,
    };
  }
  const clusterFile = join(directory, 'cluster.json');
  writeFileSync(clusterFile, JSON.stringify(members));
  const started = await Promise.allSettled(
    Object.keys(members).map((id) =>
      startNodeProcess([
        'dist/cli/main.js',
        '-cluster',
        clusterFile,
        '-id',
        id,
        '--data-dir',
        join(directory, `node-${id}`),
        '--cluster-secret',
        clusterSecret,
      ]),
    ),
  );
  const running = started.flatMap((outcome) =>
    outcome.status === 'fulfilled' ? [outcome.value] : [],
  );
  const failure = started.find((outcome) => outcome.status === 'rejected');
  if (failure === undefined) return running;
  await Promise.all(running.map((node) => stopProcess(node.child)));
  throw failure.reason;
}

async function findLeaderPort(ports: readonly number[]): Promise<number> {
  return pollUntil({
    what: 'a lockd leader election',
    timeoutMs: 15_000,
    intervalMs: 100,
    probe: async () => {
      for (const port of ports) {
        const response = await fetch(`http://127.0.0.1:${port}/cluster`, {
          signal: AbortSignal.timeout(1000),
        }).catch(() => undefined);
        const status = (await response?.json().catch(() => undefined)) as
          | { leaderAddress?: string | null }
          | undefined;
        if (typeof status?.leaderAddress === 'string')
          return Number(status.leaderAddress.split(':').at(-1));
      }
      return undefined;
    },
  });
}

/**
 * The lock API the way the seed's clients use it. Uncontended pairs are anonymous (no owner, no
 * ttl), as in the original benchmark. Contended pairs name an owner and wait, so that the
 * lock's FIFO queue hands the lock from one worker to the next in the log entry that releases it.
 */
export class LockdSession implements LockSession {
  private readonly connection: WorkerConnection;
  /** The query strings of the acquire and the release ('' or starting with '?'). */
  private readonly acquireQuery: string;
  private readonly releaseQuery: string;

  private constructor(
    /** The server's client port. */
    readonly port: number,
    options: SessionOptions,
  ) {
    this.connection = createWorkerConnection(port);
    const contended = options.load === 'contended';
    const owner = `owner=w${options.workerIndex}`;
    this.acquireQuery = contended ? `?${owner}&wait=${contendedWait}` : '';
    this.releaseQuery = contended ? `?${owner}` : '';
  }

  /**
   * A session whose connection is already open, as etcd's (after its lease grant) and Redis's
   * are, so that no worker's first pair pays for a TCP connect inside the measured window.
   */
  static async open(port: number, options: SessionOptions): Promise<LockdSession> {
    const session = new LockdSession(port, options);
    try {
      await session.connection.send({
        method: 'GET',
        path: '/healthz',
        readBody: false,
        timeoutMs: requestTimeoutMs,
      });
    } catch (error) {
      session.connection.close();
      throw error;
    }
    return session;
  }

  async acquireAndRelease(name: string): Promise<PairOutcome> {
    const path = `/lock/${name}`;
    const acquire = await this.send('POST', `${path}${this.acquireQuery}`);
    if (acquire !== 200) return { ok: false, error: `POST ${path} answered ${acquire}` };
    const release = await this.send('DELETE', `${path}${this.releaseQuery}`);
    if (release !== 200) return { ok: false, error: `DELETE ${path} answered ${release}` };
    return { ok: true, retries: 0 };
  }

  async close(): Promise<void> {
    this.connection.close();
  }

  private async send(method: 'POST' | 'DELETE', path: string): Promise<number> {
    const reply = await this.connection.send({
      method,
      path,
      readBody: false,
      timeoutMs: requestTimeoutMs,
    });
    return reply.status;
  }
}

function lockdVariant(options: {
  readonly nodes: number;
  readonly placement: Placement;
  readonly ports: readonly number[];
  readonly leaderPort: number;
}): Deployment['variants'][number] {
  const suffix = options.placement === 'single' ? '' : `, ${options.placement}`;
  return {
    label: `lockd ${nodesLabel(options.nodes)} (fsync)${suffix}`,
    placement: options.placement,
    openSession: (session) =>
      LockdSession.open(portFor({ ...options, workerIndex: session.workerIndex }), session),
  };
}

export function lockdTarget(nodes: number): Target {
  return {
    system: 'lockd',
    nodes,
    supports: () => true,
    start: async ({ directory }) => {
      mkdirSync(directory, { recursive: true });
      const processes =
        nodes === 1
          ? [await startNodeProcess(singleNodeArguments(join(directory, 'data')))]
          : await startCluster(directory, nodes);
      const stop = async (): Promise<void> => {
        await Promise.all(processes.map((node) => stopProcess(node.child)));
      };
      try {
        const ports = processes.map((node) => node.port);
        const leaderPort = nodes === 1 ? (ports[0] ?? 0) : await findLeaderPort(ports);
        const variants = placementsFor(nodes).map((placement) =>
          lockdVariant({ nodes, placement, ports, leaderPort }),
        );
        return { variants, pids: pidsOf(processes.map((node) => node.child)), stop };
      } catch (error) {
        await stop();
        throw error;
      }
    },
  };
}
