/**
 * `npm run bench`: acquire+release pairs against a real durable lockd node, at several
 * concurrencies, beside a bare node:http in-memory server measured in the same run as the
 * ceiling. Figures are pairs per second and the latency of one pair (POST then DELETE).
 *
 * Usage: npm run bench -- [--seconds 5] [--concurrency 1,16,64] [--nodes 1|3]
 * With --nodes 3 a durable 3-node cluster is measured too, with the load spread over all nodes
 * (followers forward writes to the leader) and with all of it sent to the leader.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '1,16,64' },
    nodes: { type: 'string', default: '1' },
  },
});
const seconds = Number(values.seconds);
const concurrencies = values.concurrency.split(',').map(Number);
const clusterSize = Number(values.nodes);
if (![1, 3, 5].includes(clusterSize)) throw new Error('--nodes must be 1, 3 or 5');
const root = resolve(import.meta.dirname, '..');

interface Server {
  readonly child: ChildProcess;
  readonly port: number;
}

async function startServer(args: readonly string[]): Promise<Server> {
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolvePort, rejectPort) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.includes('"lockd ready"'))
        resolvePort(Number((JSON.parse(line) as { port: number }).port));
    });
    child.once('exit', (code) => rejectPort(new Error(`server exited with ${code}`)));
  });
  return { child, port };
}

async function stopServer(server: Server): Promise<void> {
  const exited = new Promise((resolveExit) => server.child.once('exit', resolveExit));
  server.child.kill('SIGTERM');
  await exited;
}

function send(agent: Agent, port: number, method: string, path: string): Promise<number> {
  return new Promise((resolveStatus, rejectStatus) => {
    const outgoing = request({ host: '127.0.0.1', port, method, path, agent }, (response) => {
      response.resume();
      response.on('end', () => resolveStatus(response.statusCode ?? 0));
    });
    outgoing.on('error', rejectStatus);
    outgoing.end();
  });
}

interface RunResult {
  readonly pairsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly generatorCpuPercent: number;
}

async function drive(
  ports: readonly number[],
  concurrency: number,
  label: string,
): Promise<RunResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latenciesMs: number[] = [];
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const worker = async (workerIndex: number): Promise<void> => {
    for (let iteration = 0; performance.now() < deadline && iteration < 10_000_000; iteration++) {
      const path = `/lock/bench-${label}-${workerIndex}-${iteration}`;
      const pairStart = performance.now();
      const port = ports[workerIndex % ports.length] ?? 0;
      const acquired = await send(agent, port, 'POST', path);
      const released = await send(agent, port, 'DELETE', path);
      if (acquired !== 200 || released !== 200) errors++;
      latenciesMs.push(performance.now() - pairStart);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, index) => worker(index)));
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  agent.destroy();
  latenciesMs.sort((a, b) => a - b);
  const percentile = (p: number): number =>
    latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(latenciesMs.length * p))] ?? 0;
  return {
    pairsPerSecond: (latenciesMs.length / elapsedMs) * 1000,
    p50Ms: percentile(0.5),
    p99Ms: percentile(0.99),
    errors,
    generatorCpuPercent: ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100,
  };
}

function row(target: string, concurrency: number, result: RunResult, ceiling?: RunResult): string {
  const ratio =
    ceiling === undefined
      ? ''
      : `${((result.pairsPerSecond / ceiling.pairsPerSecond) * 100).toFixed(0)}%`;
  return [
    target.padEnd(22),
    String(concurrency).padStart(5),
    result.pairsPerSecond.toFixed(0).padStart(10),
    result.p50Ms.toFixed(2).padStart(9),
    result.p99Ms.toFixed(2).padStart(9),
    String(result.errors).padStart(7),
    `${result.generatorCpuPercent.toFixed(0)}%`.padStart(9),
    ratio.padStart(10),
  ].join(' ');
}

async function main(): Promise<void> {
  const dataDirectory = mkdtempSync(join(tmpdir(), 'lockd-bench-'));
  console.log(
    `lockd bench: ${seconds}s per run, ${cpus().length} cores, ${new Date().toISOString()}`,
  );
  console.log(
    [
      'target'.padEnd(22),
      'conc'.padStart(5),
      'pairs/s'.padStart(10),
      'p50 ms'.padStart(9),
      'p99 ms'.padStart(9),
      'errors'.padStart(7),
      'gen cpu'.padStart(9),
      'vs ceiling'.padStart(10),
    ].join(' '),
  );
  try {
    for (const concurrency of concurrencies) {
      const bare = await startServer(['--import', 'tsx', 'bench/bare-server.ts']);
      const ceiling = await drive([bare.port], concurrency, 'bare');
      await stopServer(bare);
      console.log(row('bare node:http (mem)', concurrency, ceiling));
      const lockd = await startServer([
        'dist/cli/main.js',
        '--listen',
        '127.0.0.1:0',
        '--data-dir',
        join(dataDirectory, String(concurrency)),
      ]);
      const result = await drive([lockd.port], concurrency, 'lockd');
      await stopServer(lockd);
      console.log(row('lockd 1 node (fsync)', concurrency, result, ceiling));
      if (clusterSize > 1)
        await benchCluster(join(dataDirectory, `cluster-${concurrency}`), concurrency, ceiling);
    }
  } finally {
    rmSync(dataDirectory, { recursive: true, force: true });
  }
}

/** A port the system picked a moment ago (released for the server to take). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const address = server.address();
  await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

async function benchCluster(
  directory: string,
  concurrency: number,
  ceiling: RunResult,
): Promise<void> {
  mkdirSync(directory, { recursive: true });
  const members: Record<string, { client: string; peer: string }> = {};
  for (let id = 1; id <= clusterSize; id++) {
    members[String(id)] = {
      client: `127.0.0.1:${await freePort()}`,
      peer: `127.0.0.1:${await freePort()}`,
    };
  }
  const clusterFile = join(directory, 'cluster.json');
  writeFileSync(clusterFile, JSON.stringify(members));
  const servers = await Promise.all(
    Object.keys(members).map((id) =>
      startServer([
        'dist/cli/main.js',
        '-cluster',
        clusterFile,
        '-id',
        id,
        '--data-dir',
        join(directory, `node-${id}`),
        '--cluster-secret',
        'bench-cluster-secret-0123456789',
      ]),
    ),
  );
  try {
    const ports = servers.map((server) => server.port);
    const leaderPort = await findLeaderPort(ports);
    const spread = await drive(ports, concurrency, `spread-${concurrency}`);
    console.log(row(`lockd ${clusterSize} nodes, spread`, concurrency, spread, ceiling));
    const onLeader = await drive([leaderPort], concurrency, `leader-${concurrency}`);
    console.log(row(`lockd ${clusterSize} nodes, leader`, concurrency, onLeader, ceiling));
  } finally {
    await Promise.all(servers.map((server) => stopServer(server)));
  }
}

async function findLeaderPort(ports: readonly number[]): Promise<number> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    for (const port of ports) {
      const response = await fetch(`http://127.0.0.1:${port}/cluster`).catch(() => undefined);
      const status = (await response?.json().catch(() => undefined)) as
        | { leaderAddress?: string | null }
        | undefined;
      if (typeof status?.leaderAddress === 'string')
        return Number(status.leaderAddress.split(':').at(-1));
    }
    await new Promise((resolveDelay) => setTimeout(resolveDelay, 100));
  }
  throw new Error('the cluster elected no leader in 15 s');
}

await main();
