/**
 * `npm run bench`: acquire+release pairs against a real durable lockd node, at several
 * concurrencies, beside a bare node:http in-memory server measured in the same run as the
 * ceiling. Figures are pairs per second and the latency of one pair (POST then DELETE).
 *
 * Usage: npm run bench -- [--seconds 5] [--concurrency 1,16,64]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '1,16,64' },
  },
});
const seconds = Number(values.seconds);
const concurrencies = values.concurrency.split(',').map(Number);
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

async function drive(port: number, concurrency: number, label: string): Promise<RunResult> {
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
      const ceiling = await drive(bare.port, concurrency, 'bare');
      await stopServer(bare);
      console.log(row('bare node:http (mem)', concurrency, ceiling));
      const lockd = await startServer([
        'dist/cli/main.js',
        '--listen',
        '127.0.0.1:0',
        '--data-dir',
        join(dataDirectory, String(concurrency)),
      ]);
      const result = await drive(lockd.port, concurrency, 'lockd');
      await stopServer(lockd);
      console.log(row('lockd 1 node (fsync)', concurrency, result, ceiling));
    }
  } finally {
    rmSync(dataDirectory, { recursive: true, force: true });
  }
}

await main();
