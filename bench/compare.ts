/**
 * The comparison run: for each load and concurrency, every target in turn is started fresh,
 * driven by the same generator, and stopped before the next one starts, so only one system uses
 * the machine's cores at a time and each starts from an empty data directory.
 */
import { cpus, release, totalmem } from 'node:os';
import { ensureInstalled } from './install.js';
import { drive, type LoadKind, type LockSession, type RunResult } from './load.js';
import {
  makeTemporaryDirectory,
  processesCpuMicroseconds,
  removeTemporaryDirectory,
} from './processes.js';
import { Report, roundsSummary } from './report.js';
import { bareTarget } from './targets/bare.js';
import { etcdTarget } from './targets/etcd.js';
import { floorKinds, floorTarget } from './targets/floor.js';
import { lockdTarget } from './targets/lockd.js';
import { type RetryBackoff, redisTarget } from './targets/redis.js';
import { type Deployment, nodesLabel, type Target, type Variant } from './targets/target.js';

export type PeerName = 'etcd' | 'redis';
export const peerNames: readonly PeerName[] = ['etcd', 'redis'];

export interface CompareOptions {
  readonly seconds: number;
  /** Unmeasured load before each run's window (see load.ts). */
  readonly warmupSeconds: number;
  readonly concurrencies: readonly number[];
  readonly nodeCounts: readonly number[];
  readonly loads: readonly LoadKind[];
  readonly peers: readonly PeerName[];
  readonly ceiling: boolean;
  readonly sharedNames: number;
  readonly redisBackoff: RetryBackoff;
  readonly markdown: boolean;
  /** How many times the whole sweep runs, interleaved; more than one adds a summary of medians. */
  readonly rounds: number;
  /** The flags as given, for the report's "Command" line. */
  readonly commandLine: string;
}

const requirements = {
  etcd: { command: 'etcd', debianPackage: 'etcd-server' },
  redis: { command: 'redis-server', debianPackage: 'redis-server' },
} as const;

/** Leases and TTLs outlast the window by this much, so none ends while it is measured. */
const leaseMarginMs = 60_000;

interface Peers {
  readonly available: readonly PeerName[];
  readonly versionLines: readonly string[];
}

async function preparePeers(options: CompareOptions): Promise<Peers> {
  const availability = await ensureInstalled(options.peers.map((peer) => requirements[peer]));
  const available: PeerName[] = [];
  const versionLines: string[] = [];
  for (const peer of options.peers) {
    const status = availability.get(requirements[peer].command);
    if (status?.available === true) {
      available.push(peer);
      versionLines.push(`${peer}: ${status.version} (${status.path})`);
    } else {
      const reason = status?.available === false ? status.reason : 'unknown';
      console.log(`${peer}: skipped, ${requirements[peer].command} is not available: ${reason}`);
    }
  }
  return { available, versionLines };
}

/**
 * Redis, after the node:net floors: what one Node.js thread does at the least to serve the same
 * load from memory, and with Redis's durability. Redis is measured next to them, so that a gap
 * between lockd and Redis can be told apart from the gap between Node.js and Redis.
 */
function redisWithFloors(options: CompareOptions): Target[] {
  return [...floorKinds.map(floorTarget), redisTarget(options.redisBackoff)];
}

/** The targets in the order they run within each (load, concurrency) cell. */
function planTargets(options: CompareOptions, peers: readonly PeerName[]): Target[] {
  const targets: Target[] = options.ceiling ? [bareTarget()] : [];
  for (const nodes of options.nodeCounts) {
    targets.push(lockdTarget(nodes));
    if (peers.includes('etcd')) targets.push(etcdTarget(nodes));
    if (nodes === 1 && peers.includes('redis')) targets.push(...redisWithFloors(options));
  }
  // Redis is a single node: it is compared with lockd 1 node, measured only if 1 is in --nodes.
  if (!options.nodeCounts.includes(1) && peers.includes('redis'))
    targets.push(...redisWithFloors(options));
  return targets;
}

async function openSessions(
  variant: Variant,
  load: LoadKind,
  concurrency: number,
  leaseMs: number,
): Promise<LockSession[]> {
  const opened = await Promise.allSettled(
    Array.from({ length: concurrency }, (_, workerIndex) =>
      variant.openSession({ workerIndex, load, leaseMs }),
    ),
  );
  const sessions = opened.flatMap((outcome) =>
    outcome.status === 'fulfilled' ? [outcome.value] : [],
  );
  const failure = opened.find((outcome) => outcome.status === 'rejected');
  if (failure === undefined) return sessions;
  await Promise.all(sessions.map((session) => session.close()));
  throw failure.reason;
}

interface Cell {
  readonly load: LoadKind;
  readonly concurrency: number;
}

let runCount = 0;

async function measureVariant(
  variant: Variant,
  deployment: Deployment,
  cell: Cell,
  options: CompareOptions,
): Promise<RunResult> {
  const leaseMs = (options.seconds + options.warmupSeconds) * 1000 + leaseMarginMs;
  const sessions = await openSessions(variant, cell.load, cell.concurrency, leaseMs);
  runCount += 1;
  try {
    return await drive({
      sessions,
      load: cell.load,
      seconds: options.seconds,
      warmupSeconds: options.warmupSeconds,
      sharedNames: options.sharedNames,
      runId: String(runCount),
      serverCpuMicroseconds: () => processesCpuMicroseconds(deployment.pids),
    });
  } finally {
    await Promise.all(sessions.map((session) => session.close()));
  }
}

async function measureTarget(
  target: Target,
  cell: Cell,
  options: CompareOptions,
  report: Report,
): Promise<void> {
  const name = `${target.system} ${nodesLabel(target.nodes)}`;
  const directory = makeTemporaryDirectory(`lockd-bench-${target.system}-`);
  try {
    const deployment = await target.start({ directory, nodes: target.nodes });
    try {
      for (const variant of deployment.variants) {
        const result = await measureVariant(variant, deployment, cell, options);
        const { system, nodes } = target;
        report.add({
          label: variant.label,
          system,
          nodes,
          placement: variant.placement,
          ...cell,
          result,
        });
      }
    } finally {
      await deployment.stop();
    }
  } catch (error) {
    report.note(
      `${name}, ${cell.load}, ${cell.concurrency}: not measured: ${(error as Error).message}`,
    );
  } finally {
    removeTemporaryDirectory(directory);
  }
}

function machineLine(): string {
  const model = cpus()[0]?.model ?? 'unknown CPU';
  const memoryGiB = (totalmem() / 1024 ** 3).toFixed(0);
  return `${cpus().length} cores (${model}), ${memoryGiB} GiB RAM, Linux ${release()}, Node ${process.version}`;
}

export async function runComparison(options: CompareOptions): Promise<void> {
  const peers = await preparePeers(options);
  const targets = planTargets(options, peers.available);
  const header = [
    `lockd bench: ${options.seconds} s per run after ${options.warmupSeconds} s of warm-up, ${new Date().toISOString()}`,
    `machine: ${machineLine()}`,
    ...peers.versionLines,
  ];
  console.log(header.join('\n'));
  const reports: Report[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    if (options.rounds > 1) console.log(`round ${round} of ${options.rounds}`);
    const report = new Report();
    reports.push(report);
    report.printHeader();
    for (const load of options.loads)
      for (const concurrency of options.concurrencies)
        for (const target of targets)
          if (target.supports(load))
            await measureTarget(target, { load, concurrency }, options, report);
  }
  if (options.rounds > 1) {
    console.log('');
    console.log(roundsSummary(reports));
  }
  const [report] = reports;
  if (!options.markdown || report === undefined) return;
  console.log('');
  console.log(`- Machine: ${machineLine()}.`);
  const flags = options.commandLine === '' ? '' : ` -- ${options.commandLine}`;
  console.log(`- Command: \`npm run bench${flags}\``);
  for (const line of peers.versionLines) console.log(`- ${line}`);
  for (const line of methodLines(options)) console.log(`- ${line}`);
  console.log('');
  console.log(report.markdown());
}

/** How each target is driven, for the notes above a Markdown table. */
function methodLines(options: CompareOptions): string[] {
  const { minimumMs, maximumMs } = options.redisBackoff;
  const lines = [
    'A pair is an acquire then a release from one worker; each worker has its own keep-alive ' +
      'connection. lockd: uncontended `POST`/`DELETE /lock/:name` (anonymous, no ttl); contended ' +
      '`?owner=wN&wait=10s`, released with the owner.',
    `Contended: ${options.sharedNames} names shared by all workers.`,
    `Each run is ${options.warmupSeconds} s of the same load, not measured (V8 optimises lockd's request path meanwhile), then ${options.seconds} s measured.`,
  ];
  if (options.peers.includes('etcd'))
    lines.push(
      "etcd: its lock service through the JSON gateway, one lease per worker, `lock/lock` (blocks until held) then `lock/unlock`; fsync on (etcd's default).",
    );
  if (options.peers.includes('redis'))
    lines.push(
      `Redis: \`SET name token NX PX\` then a compare-and-delete script (EVALSHA); appendonly yes, appendfsync always; contended acquires retry after a random ${minimumMs}–${maximumMs} ms (retries/pair).`,
    );
  if (options.peers.includes('redis'))
    lines.push(
      "The node:net floors (`bench/bare-sockets-server.ts`) answer the same requests from raw sockets with no framework, validation or consensus, from memory, and with appendfsync always as Redis does it (one fdatasync per turn of the event loop, answers after it): no Node.js server that keeps Redis's durability does less per request.",
    );
  if ((options.ceiling || options.peers.includes('redis')) && options.loads.includes('contended'))
    lines.push(
      'The bare node:http ceiling and the node:net floors have no queue: they are measured uncontended only.',
    );
  return lines;
}
