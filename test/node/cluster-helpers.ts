/**
 * LockNode clusters in one process: real PeerTransports on 127.0.0.1 (port 0, then every node is
 * told the others' ports with learnMembers), real time, MemoryStorage or LmdbStorage in temporary
 * directories. Waits are on the nodes' own events: a write or a linearizable read itself waits
 * (bounded) for a leader and a quorum, so "until the cluster serves" is "until such a call works".
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterStatus } from '../../src/api/cluster-service.js';
import type { AcquireResult, LockEvent } from '../../src/api/lock-service.js';
import { isLockdError } from '../../src/errors.js';
import { defaultLimits } from '../../src/node/limits.js';
import {
  LockNode,
  type LockNodeOptions,
  type MemberAddresses,
  type MemberContact,
} from '../../src/node/lock-node.js';
import { LmdbStorage } from '../../src/storage/lmdb-storage.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import type { RaftStorage } from '../../src/storage/storage.js';
import type { LogRecord } from './helpers.js';

export const clusterTiming = {
  tickMs: 10,
  electionTicks: 10,
  heartbeatTicks: 1,
  /** The node waits half of it for a leader; reads and commits at most all of it. */
  requestTimeoutMs: 2_000,
  membershipTimeoutMs: 10_000,
} as const;

const secret = new TextEncoder().encode('a cluster secret for the tests, 32+ bytes long');
const host = '127.0.0.1';

export interface ClusterNode {
  readonly id: number;
  readonly node: LockNode;
  readonly storage: RaftStorage;
  readonly logs: LogRecord[];
  readonly fatal: unknown[];
  /** The peer port it listens on (kept for a restart on the same address). */
  readonly peerPort: number;
}

export interface ClusterOptions {
  readonly size: number;
  readonly storage?: 'memory' | 'lmdb';
  readonly snapshotEvery?: number;
  readonly allowFaultInjection?: boolean;
  /** The MemoryStorage a node starts on the first time (default: a plain one). */
  readonly memoryStorage?: (id: number) => MemoryStorage;
}

interface Saved {
  memory?: MemoryStorage;
  dataDir?: string;
  peerPort: number;
}

export class TestCluster {
  readonly #options: ClusterOptions;
  readonly nodes = new Map<number, ClusterNode>();
  /** What a stopped node needs to come back: its storage and its peer port. */
  readonly #saved = new Map<number, Saved>();
  readonly #directories: string[] = [];

  constructor(options: ClusterOptions) {
    this.#options = options;
  }

  /** Starts ids 1..size as the first voters, then tells each the others' ports. */
  static async start(options: ClusterOptions): Promise<TestCluster> {
    const cluster = new TestCluster(options);
    const ids = Array.from({ length: options.size }, (_, offset) => offset + 1);
    for (const id of ids) await cluster.#startNode(id, ids);
    cluster.introduce();
    return cluster;
  }

  node(id: number): LockNode {
    const member = this.nodes.get(id);
    assert.ok(member !== undefined, `node ${id} is not running`);
    return member.node;
  }

  /** Every running node's contact. */
  contacts(): MemberContact[] {
    return [...this.nodes.values()].map((member) => ({
      id: member.id,
      clientAddress: `${host}:0`,
      peerAddress: `${host}:${member.peerPort}`,
    }));
  }

  /** Tells every running node where the others listen. */
  introduce(): void {
    const contacts = this.contacts();
    for (const member of this.nodes.values()) member.node.learnMembers(contacts);
  }

  /** Starts a node that joins the running cluster (no bootstrap members). */
  async startJoining(id: number): Promise<ClusterNode> {
    return this.#startNode(id, []);
  }

  async stop(id: number): Promise<void> {
    const member = this.nodes.get(id);
    assert.ok(member !== undefined, `node ${id} is not running`);
    this.nodes.delete(id);
    await member.node.stop();
  }

  /** Starts a stopped node again on what it had stored, on the same peer port. */
  async restart(id: number): Promise<ClusterNode> {
    const saved = this.#saved.get(id);
    assert.ok(saved !== undefined && !this.nodes.has(id), `node ${id} was not stopped`);
    return this.#startNode(id, [], saved);
  }

  /** The node that leads, once one does: found by a write that waits for it. */
  async leader(through: number): Promise<ClusterNode> {
    await this.untilServing(through);
    const leaderId = this.node(through).clusterStatus().leader;
    const member = leaderId === null ? undefined : this.nodes.get(leaderId);
    assert.ok(member !== undefined, `node ${through} names leader ${leaderId}`);
    return member;
  }

  /** Until a linearizable read through `through` works (each try waits, bounded, on its own). */
  async untilServing(through: number): Promise<void> {
    await retryUnavailable(() => this.node(through).describe('probe', { stale: false }));
  }

  async close(): Promise<void> {
    for (const id of [...this.nodes.keys()]) await this.stop(id);
    for (const directory of this.#directories) rmSync(directory, { recursive: true, force: true });
  }

  async #startNode(id: number, voters: readonly number[], saved?: Saved): Promise<ClusterNode> {
    const logs: LogRecord[] = [];
    const fatal: unknown[] = [];
    const storage = await this.#storageFor(id, saved);
    const known = new Map(this.contacts().map((contact) => [contact.id, contact]));
    const members = new Map<number, MemberAddresses>();
    for (const voter of voters) {
      const port = Number(known.get(voter)?.peerAddress.split(':')[1] ?? 0);
      members.set(voter, { client: { host, port: 0 }, peer: { host, port } });
    }
    const options: LockNodeOptions = {
      id,
      cluster: {
        self: { client: { host, port: 0 }, peer: { host, port: saved?.peerPort ?? 0 } },
        members,
        secret,
        allowFaultInjection: this.#options.allowFaultInjection ?? true,
      },
      storage,
      tickMs: clusterTiming.tickMs,
      electionTicks: clusterTiming.electionTicks,
      heartbeatTicks: clusterTiming.heartbeatTicks,
      seed: id * 7919,
      logger: {
        info: (object, message) => logs.push({ level: 'info', object, message }),
        warn: (object, message) => logs.push({ level: 'warn', object, message }),
        error: (object, message) => logs.push({ level: 'error', object, message }),
      },
      onFatal: (error) => fatal.push(error),
      clock: Date.now,
      limits: defaultLimits,
      requestTimeoutMs: clusterTiming.requestTimeoutMs,
      membershipTimeoutMs: clusterTiming.membershipTimeoutMs,
      ...(this.#options.snapshotEvery === undefined
        ? {}
        : { snapshotEvery: this.#options.snapshotEvery }),
    };
    const node = await LockNode.start(options);
    const member: ClusterNode = { id, node, storage, logs, fatal, peerPort: node.peerPort };
    this.nodes.set(id, member);
    const kept = this.#saved.get(id);
    if (kept !== undefined) kept.peerPort = node.peerPort;
    if (saved !== undefined) node.learnMembers(this.contacts());
    return member;
  }

  async #storageFor(id: number, saved: Saved | undefined): Promise<RaftStorage> {
    if (this.#options.storage === 'lmdb') {
      let dataDir = saved?.dataDir;
      if (dataDir === undefined) {
        dataDir = mkdtempSync(join(tmpdir(), `lockd-node-${id}-`));
        this.#directories.push(dataDir);
      }
      const storage = await LmdbStorage.open(dataDir);
      this.#saved.set(id, { dataDir, peerPort: saved?.peerPort ?? 0 });
      return storage;
    }
    // A stopped node's MemoryStorage holds what it acknowledged: a restart starts from a copy.
    const storage =
      saved?.memory === undefined
        ? (this.#options.memoryStorage?.(id) ?? new MemoryStorage())
        : new MemoryStorage(saved.memory.snapshot());
    this.#saved.set(id, { memory: storage, peerPort: saved?.peerPort ?? 0 });
    return storage;
  }
}

/** 503s are what a cluster answers while it elects or heals: retried, a bounded number of times. */
export async function retryUnavailable<T>(
  operation: () => Promise<T>,
  attemptsMax = 20,
): Promise<T> {
  let lastError: unknown;
  for (let attempt = 0; attempt < attemptsMax; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (!isLockdError(error) || error.status !== 503) throw error;
      lastError = error;
    }
  }
  throw lastError;
}

export function tokenOf(result: AcquireResult): number {
  assert.equal(result.outcome, 'acquired', JSON.stringify(result));
  return result.outcome === 'acquired' ? result.grant.token : -1;
}

export function voters(status: ClusterStatus): number[] {
  return status.members.filter((member) => member.role !== 'learner').map((member) => member.id);
}

/**
 * Until the leader's queue for `name` holds `count` waiters. The forwarded call crosses a socket,
 * and nothing signals its arrival in the queue: a bounded poll, yielding to I/O between looks.
 */
export async function untilWaiters(node: LockNode, name: string, count: number): Promise<void> {
  for (let look = 0; look < 10_000; look++) {
    const view = await node.describe(name, { stale: true });
    if ((view?.waiters.length ?? 0) === count) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  assert.fail(`the queue of ${name} never held ${count} waiters`);
}

/** The first event on `node` that `matches`, from now on; rejects after `timeoutMs`. */
export function nextEvent(
  node: LockNode,
  matches: (event: LockEvent) => boolean,
  timeoutMs = 10_000,
): Promise<LockEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      subscription.unsubscribe();
      reject(new Error(`no matching event within ${timeoutMs} ms`));
    }, timeoutMs);
    const subscription = node.subscribe({ name: null, prefix: '' }, null, (event) => {
      if (!matches(event)) return;
      clearTimeout(timer);
      subscription.unsubscribe();
      resolve(event);
    });
  });
}
