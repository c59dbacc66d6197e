/**
 * A cluster of real lockd processes on 127.0.0.1 whose peer traffic all goes through fault
 * proxies, one per directed pair (A → B carries the connection A dials to B: A's Raft messages
 * to B, and B's answers to A's forwarded writes). The nemesis kills, restarts, pauses and resumes
 * processes, cuts or heals links and slows nodes' disks; everything is undone by `healAll` and
 * `stop`.
 *
 * Every node gets the same ordinary cluster file with the real ports; inside each process a hook
 * (peer-routes.mjs) rewrites its connections to a peer's real port into the proxy for that pair;
 * another (slow-disk.mjs) delays its syncs by what the node's disk control file says.
 */
import { randomInt } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { assert } from '../../src/util/assert.js';
import { testSecret } from '../support/cluster.js';
import { httpRequest, parseJsonObject } from './http.js';
import { type LockdChild, snapshotBuild, spawnLockd } from './lockd-child.js';
import { FaultProxy, type LinkMode } from './proxy.js';

export interface FaultClusterOptions {
  readonly size: number;
  /** Holds the cluster file and each node's data directory; the caller removes it. */
  readonly directory: string;
  /** lockd's --request-timeout-ms: the longest a request waits for the cluster. */
  readonly requestTimeoutMs: number;
  readonly readyTimeoutMs?: number;
}

export interface DirectedLink {
  readonly from: number;
  readonly to: number;
}

interface NodeSlot {
  readonly id: number;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDirectory: string;
  /** Its disk's extra delay per sync, in ms, read by slow-disk.mjs; absent when the disk is fast. */
  readonly diskControlPath: string;
  process: LockdChild | undefined;
  paused: boolean;
}

const host = '127.0.0.1';
/** Status polls give up on a node after this long: a paused node never answers. */
const statusTimeoutMs = 1_000;
const pollIntervalMs = 100;

export class FaultCluster {
  readonly #options: FaultClusterOptions;
  readonly #nodes: readonly NodeSlot[];
  readonly #proxies: ReadonlyMap<string, FaultProxy>;
  readonly #clusterFile: string;
  /** This cluster's own copy of the built lockd. */
  readonly #cliPath: string;

  private constructor(
    options: FaultClusterOptions,
    nodes: readonly NodeSlot[],
    proxies: ReadonlyMap<string, FaultProxy>,
    files: { readonly clusterFile: string; readonly cliPath: string },
  ) {
    this.#options = options;
    this.#nodes = nodes;
    this.#proxies = proxies;
    this.#clusterFile = files.clusterFile;
    this.#cliPath = files.cliPath;
  }

  /** Picks ports, starts the proxies and writes the cluster file; starts no node yet. */
  static async create(options: FaultClusterOptions): Promise<FaultCluster> {
    assert(options.size >= 3 && options.size <= 9, 'a fault cluster has 3 to 9 nodes');
    const cliPath = snapshotBuild(join(options.directory, 'build'));
    const ports = await reservePorts(options.size * 2);
    const nodes: NodeSlot[] = [];
    for (let index = 0; index < options.size; index++) {
      const id = index + 1;
      nodes.push({
        id,
        clientPort: ports[index * 2] ?? 0,
        peerPort: ports[index * 2 + 1] ?? 0,
        dataDirectory: join(options.directory, `node-${id}`),
        diskControlPath: join(options.directory, `node-${id}.disk-delay-ms`),
        process: undefined,
        paused: false,
      });
    }
    const proxies = new Map<string, FaultProxy>();
    try {
      for (const from of nodes) {
        for (const to of nodes) {
          if (from.id === to.id) continue;
          const proxy = await FaultProxy.start({
            listenHost: host,
            listenPort: 0,
            targetHost: host,
            targetPort: to.peerPort,
          });
          proxies.set(linkKey({ from: from.id, to: to.id }), proxy);
        }
      }
    } catch (error) {
      await Promise.all([...proxies.values()].map((proxy) => proxy.close()));
      throw error;
    }
    const clusterFile = join(options.directory, 'cluster.json');
    const members = Object.fromEntries(
      nodes.map((node) => [
        String(node.id),
        { client: `${host}:${node.clientPort}`, peer: `${host}:${node.peerPort}` },
      ]),
    );
    writeFileSync(clusterFile, JSON.stringify(members));
    return new FaultCluster(options, nodes, proxies, { clusterFile, cliPath });
  }

  get ids(): number[] {
    return this.#nodes.map((node) => node.id);
  }

  clientPort(id: number): number {
    return this.#slot(id).clientPort;
  }

  isRunning(id: number): boolean {
    return this.#slot(id).process !== undefined;
  }

  isPaused(id: number): boolean {
    return this.#slot(id).paused;
  }

  /** Running and not paused: it can answer. */
  isServing(id: number): boolean {
    return this.isRunning(id) && !this.isPaused(id);
  }

  async start(id: number): Promise<void> {
    const slot = this.#slot(id);
    assert(slot.process === undefined, `node ${id} is already running`);
    slot.process = await spawnLockd({
      cliPath: this.#cliPath,
      args: [
        '-cluster',
        this.#clusterFile,
        '-id',
        String(id),
        '--data-dir',
        slot.dataDirectory,
        '--cluster-secret',
        testSecret,
        '--request-timeout-ms',
        String(this.#options.requestTimeoutMs),
      ],
      peerRoutes: this.#peerRoutes(id),
      diskControlPath: slot.diskControlPath,
      readyTimeoutMs: this.#options.readyTimeoutMs ?? 20_000,
    });
    slot.paused = false;
  }

  async startAll(): Promise<void> {
    await Promise.all(
      this.#nodes.filter((node) => node.process === undefined).map((node) => this.start(node.id)),
    );
  }

  /** kill -9 (a paused process dies too: SIGKILL needs no scheduling). */
  async kill(id: number): Promise<void> {
    const slot = this.#slot(id);
    const running = slot.process;
    if (running === undefined) return;
    running.child.kill('SIGKILL');
    await running.exited;
    slot.process = undefined;
    slot.paused = false;
  }

  pause(id: number): void {
    const slot = this.#slot(id);
    assert(slot.process !== undefined && !slot.paused, `node ${id} is not running unpaused`);
    slot.process.child.kill('SIGSTOP');
    slot.paused = true;
  }

  resume(id: number): void {
    const slot = this.#slot(id);
    if (slot.process === undefined || !slot.paused) return;
    slot.process.child.kill('SIGCONT');
    slot.paused = false;
  }

  /** Cuts these directed links (and heals every other one). */
  cutLinks(links: readonly DirectedLink[], mode: Exclude<LinkMode, 'pass'>): void {
    const cut = new Set(links.map(linkKey));
    for (const [key, proxy] of this.#proxies) proxy.setMode(cut.has(key) ? mode : 'pass');
  }

  healLinks(): void {
    for (const proxy of this.#proxies.values()) proxy.setMode('pass');
  }

  /** Every fsync and fdatasync of this node (running or started later) first waits `delayMs`. */
  slowDisk(id: number, delayMs: number): void {
    assert(delayMs > 0, 'a slow disk has a positive delay');
    writeFileSync(this.#slot(id).diskControlPath, String(delayMs));
  }

  healDisks(): void {
    for (const node of this.#nodes) rmSync(node.diskControlPath, { force: true });
  }

  /** Heals the links and disks, resumes paused nodes and restarts dead ones. */
  async healAll(): Promise<void> {
    this.healLinks();
    this.healDisks();
    for (const node of this.#nodes) this.resume(node.id);
    await this.startAll();
  }

  /** The leader a serving node claims to be, the one of the highest term; polls once. */
  async currentLeader(): Promise<number | undefined> {
    const statuses = await this.#statuses();
    let best: { id: number; term: number } | undefined;
    for (const status of statuses) {
      if (status.role !== 'leader') continue;
      if (best === undefined || status.term > best.term)
        best = { id: status.id, term: status.term };
    }
    return best?.id;
  }

  /** Bounded wait until every serving node names the same serving leader. */
  async waitForLeader(timeoutMs: number): Promise<number> {
    const deadlineMs = Date.now() + timeoutMs;
    while (Date.now() < deadlineMs) {
      const leader = await this.#agreedLeader();
      if (leader !== undefined) return leader;
      await delay(pollIntervalMs);
    }
    throw new Error(`no leader agreed on within ${timeoutMs} ms`);
  }

  /** Bounded wait until every directed link carries a connection: every node reached every peer. */
  async waitForLinks(timeoutMs: number): Promise<void> {
    const deadlineMs = Date.now() + timeoutMs;
    while (Date.now() < deadlineMs) {
      if ([...this.#proxies.values()].every((proxy) => proxy.connectedCount > 0)) return;
      await delay(pollIntervalMs);
    }
    const missing = [...this.#proxies]
      .filter(([, proxy]) => proxy.connectedCount === 0)
      .map(([key]) => key);
    throw new Error(`peer links not connected within ${timeoutMs} ms: ${missing.join(', ')}`);
  }

  /** The last lines each node printed, for a failure report. */
  recentOutput(lines: number): string {
    return this.#nodes
      .map(
        (node) =>
          `--- node ${node.id}\n${node.process?.output.slice(-lines).join('\n') ?? '(not running)'}`,
      )
      .join('\n');
  }

  /** Kills every node and closes the proxies. */
  async stop(): Promise<void> {
    await Promise.all(this.#nodes.map((node) => this.kill(node.id)));
    await Promise.all([...this.#proxies.values()].map((proxy) => proxy.close()));
  }

  #slot(id: number): NodeSlot {
    const slot = this.#nodes.find((node) => node.id === id);
    assert(slot !== undefined, `no node ${id}`);
    return slot;
  }

  #peerRoutes(id: number): Map<string, string> {
    const routes = new Map<string, string>();
    for (const peer of this.#nodes) {
      if (peer.id === id) continue;
      const proxy = this.#proxies.get(linkKey({ from: id, to: peer.id }));
      assert(proxy !== undefined, `no proxy for ${id} → ${peer.id}`);
      routes.set(`${host}:${peer.peerPort}`, `${host}:${proxy.port}`);
    }
    return routes;
  }

  async #agreedLeader(): Promise<number | undefined> {
    const serving = this.#nodes.filter((node) => this.isServing(node.id));
    const statuses = await this.#statuses();
    if (statuses.length !== serving.length) return undefined;
    const leaders = new Set(statuses.map((status) => status.leader));
    const [leader] = [...leaders];
    if (leaders.size !== 1 || leader === undefined || leader === null) return undefined;
    return this.isServing(leader) ? leader : undefined;
  }

  async #statuses(): Promise<NodeStatus[]> {
    const serving = this.#nodes.filter((node) => this.isServing(node.id));
    const answers = await Promise.all(serving.map((node) => fetchStatus(node.clientPort)));
    return answers.filter((status) => status !== undefined);
  }
}

interface NodeStatus {
  readonly id: number;
  readonly role: string;
  readonly term: number;
  readonly leader: number | null;
}

async function fetchStatus(port: number): Promise<NodeStatus | undefined> {
  const result = await httpRequest({
    port,
    method: 'GET',
    path: '/cluster',
    timeoutMs: statusTimeoutMs,
  });
  if (result.type !== 'answer' || result.status !== 200) return undefined;
  const body = parseJsonObject(result.body);
  if (body === undefined) return undefined;
  const { id, role, term, leader } = body;
  if (typeof id !== 'number' || typeof role !== 'string' || typeof term !== 'number')
    return undefined;
  return { id, role, term, leader: typeof leader === 'number' ? leader : null };
}

export function linkKey(link: DirectedLink): string {
  return `${link.from}>${link.to}`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolveDelay) => setTimeout(resolveDelay, ms));
}

/**
 * Ports for the nodes, below the system's ephemeral range (32768 and up on Linux): a node killed
 * for a while leaves its ports free, and an outgoing connection must not take one meanwhile, or
 * the node could not restart. Each port is checked free by listening on it once.
 */
async function reservePorts(count: number): Promise<number[]> {
  const attemptsMax = count * 50;
  const chosen: number[] = [];
  for (let attempt = 0; attempt < attemptsMax && chosen.length < count; attempt++) {
    const port = randomInt(20_000, 32_000);
    if (!chosen.includes(port) && (await canListen(port))) chosen.push(port);
  }
  if (chosen.length < count) throw new Error(`found only ${chosen.length} of ${count} free ports`);
  return chosen;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolveCheck) => {
    const server = createServer();
    server.once('error', () => resolveCheck(false));
    server.listen(port, host, () => server.close(() => resolveCheck(true)));
  });
}
