/**
 * Redis as a benchmark target, configured to be as durable as it can be on one node: an
 * append-only file fsync'd before every write is answered (appendfsync always), no RDB snapshots.
 * A lock is the usual single-instance pattern: `SET name token NX PX ttl` to take it and a
 * compare-and-delete script to release it, so a client can only release its own lock.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { LockSession, PairOutcome } from '../load.js';
import { delay, freePort, pidsOf, pollUntil, spawnTracked, stopProcess } from '../processes.js';
import { RespConnection, RespError, type RespValue } from '../resp.js';
import type { SessionOptions, Target } from './target.js';

export const releaseScript =
  "if redis.call('get',KEYS[1])==ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end";
/** A contended acquire gives up after as long as lockd's contended wait. */
const contendedWaitMs = 10_000;

export interface RetryBackoff {
  readonly minimumMs: number;
  readonly maximumMs: number;
}

async function commandOrThrow(connection: RespConnection, args: string[]): Promise<RespValue> {
  const reply = await connection.command(args);
  if (reply instanceof RespError) throw new Error(`${args[0]}: ${reply.message}`);
  return reply;
}

/**
 * Redis has no queue: a client that finds the lock held sleeps a random 1–5 ms (by default) and
 * tries again, which is how Redis locks are used (Redlock's clients do the same).
 */
class RedisSession implements LockSession {
  private pairsStarted = 0;

  constructor(
    private readonly connection: RespConnection,
    private readonly releaseSha: string,
    private readonly tokenPrefix: string,
    private readonly options: SessionOptions & { readonly backoff: RetryBackoff },
  ) {}

  async acquireAndRelease(name: string): Promise<PairOutcome> {
    this.pairsStarted += 1;
    const token = `${this.tokenPrefix}-${this.pairsStarted}`;
    const acquired = await this.acquire(name, token);
    if (!acquired.ok) return acquired;
    const released = await this.connection.command(['EVALSHA', this.releaseSha, '1', name, token]);
    if (released !== 1)
      return { ok: false, error: `release of ${name} answered ${show(released)}` };
    return acquired;
  }

  async close(): Promise<void> {
    this.connection.close();
  }

  private async acquire(name: string, token: string): Promise<PairOutcome> {
    const set = ['SET', name, token, 'NX', 'PX', String(this.options.leaseMs)];
    const contended = this.options.load === 'contended';
    const deadline = performance.now() + contendedWaitMs;
    const { minimumMs, maximumMs } = this.options.backoff;
    // Bounded by the wait deadline; the count bound is there in case the backoff is 0 ms.
    const attemptsMax = contended ? Math.ceil(contendedWaitMs / Math.max(minimumMs, 0.01)) : 1;
    for (let attempt = 0; attempt < attemptsMax; attempt++) {
      const reply = await this.connection.command(set);
      if (reply === 'OK') return { ok: true, retries: attempt };
      if (reply !== null) return { ok: false, error: `SET NX of ${name} answered ${show(reply)}` };
      if (!contended || performance.now() >= deadline) break;
      await delay(minimumMs + Math.random() * (maximumMs - minimumMs));
    }
    return { ok: false, error: `${name} stayed held (SET NX answered nil)` };
  }
}

function show(value: RespValue): string {
  return value instanceof RespError ? `error ${value.message}` : JSON.stringify(value);
}

interface RedisServer {
  readonly port: number;
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

async function startRedis(directory: string): Promise<RedisServer> {
  const port = await freePort();
  const child = spawnTracked(
    'redis-server',
    [
      ...['--port', String(port), '--bind', '127.0.0.1', '--dir', directory],
      ...['--appendonly', 'yes', '--appendfsync', 'always', '--save', ''],
      ...['--daemonize', 'no', '--logfile', join(directory, 'redis.log')],
    ],
    { stdio: 'ignore' },
  );
  const stop = (): Promise<void> => stopProcess(child);
  try {
    await pollUntil({
      what: `redis-server answering PING on port ${port}`,
      timeoutMs: 15_000,
      intervalMs: 50,
      probe: async () => {
        if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
        const connection = await RespConnection.connect(port);
        try {
          return (await connection.command(['PING'])) === 'PONG' ? true : undefined;
        } finally {
          connection.close();
        }
      },
    });
    await assertDurable(port);
    return { port, pids: pidsOf([child]), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The comparison is only fair if Redis really fsyncs every write: check what it runs with. */
async function assertDurable(port: number): Promise<void> {
  const connection = await RespConnection.connect(port);
  try {
    const fsync = await commandOrThrow(connection, ['CONFIG', 'GET', 'appendfsync']);
    const appendOnly = await commandOrThrow(connection, ['CONFIG', 'GET', 'appendonly']);
    if (JSON.stringify(fsync) !== '["appendfsync","always"]')
      throw new Error(`redis-server runs with ${JSON.stringify(fsync)}, not appendfsync always`);
    if (JSON.stringify(appendOnly) !== '["appendonly","yes"]')
      throw new Error(`redis-server runs with ${JSON.stringify(appendOnly)}, not appendonly yes`);
  } finally {
    connection.close();
  }
}

export function redisTarget(backoff: RetryBackoff): Target {
  return {
    system: 'redis',
    nodes: 1,
    supports: () => true,
    start: async ({ directory }) => {
      const server = await startRedis(directory);
      const openSession = async (options: SessionOptions): Promise<LockSession> => {
        const connection = await RespConnection.connect(server.port);
        const sha = await commandOrThrow(connection, ['SCRIPT', 'LOAD', releaseScript]);
        if (typeof sha !== 'string') throw new Error(`SCRIPT LOAD answered ${show(sha)}`);
        const tokenPrefix = `${randomBytes(8).toString('hex')}-${options.workerIndex}`;
        return new RedisSession(connection, sha, tokenPrefix, { ...options, backoff });
      };
      return {
        variants: [
          { label: 'redis 1 node (appendfsync always)', placement: 'single', openSession },
        ],
        pids: server.pids,
        stop: server.stop,
      };
    },
  };
}
