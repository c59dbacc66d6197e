/**
 * The cost of lockd's core without HTTP: one LockNode on memory storage in this process, driven
 * with acquire+release pairs by `concurrency` workers. Prints operations per second and CPU per
 * operation. Against the HTTP benchmark it tells how much of a request's CPU is the node itself.
 *
 *   npm run build && node --import tsx bench/in-process.ts [--concurrency 16] [--pairs 50000] [--idle-ms 0]
 *
 * `--idle-ms` sleeps between a worker's pairs, as a server at low concurrency sleeps between
 * requests: the same code then runs from cold caches and costs several times more CPU.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { NodeLogger } from '../src/node/lock-node.js';

/**
 * The code measured is the build (`npm run bench` builds first), not src/ through tsx: tsx
 * compiles with esbuild's keepNames, which wraps functions in `__name` calls, and measured that
 * way the core cost 18–23 µs an operation against 14–15 µs for the build that runs in production.
 */
async function fromBuild<Module>(path: string): Promise<Module> {
  const url = new URL(`../dist/${path}`, import.meta.url);
  try {
    return (await import(url.href)) as Module;
  } catch (error) {
    throw new Error(`cannot load ${url.pathname}: run npm run build first`, { cause: error });
  }
}

const { defaultLimits } = await fromBuild<typeof import('../src/node/limits.js')>('node/limits.js');
const { LockNode } =
  await fromBuild<typeof import('../src/node/lock-node.js')>('node/lock-node.js');
const { MemoryStorage } = await fromBuild<typeof import('../src/storage/memory-storage.js')>(
  'storage/memory-storage.js',
);
const { Cancellation } =
  await fromBuild<typeof import('../src/util/cancellation.js')>('util/cancellation.js');

const warmupPairs = 2_000;
const pairsMax = 10_000_000;

const { values } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '16' },
    pairs: { type: 'string', default: '50000' },
    'idle-ms': { type: 'string', default: '0' },
  },
});
const concurrency = Number(values.concurrency);
const pairs = Number(values.pairs);
const idleMs = Number(values['idle-ms']);
if (!(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 1_000)) {
  throw new Error(`--concurrency must be 1 to 1000, got ${values.concurrency}`);
}
if (!(Number.isInteger(pairs) && pairs >= concurrency && pairs <= pairsMax)) {
  throw new Error(`--pairs must be ${concurrency} to ${pairsMax}, got ${values.pairs}`);
}
if (!(Number.isFinite(idleMs) && idleMs >= 0))
  throw new Error(`bad --idle-ms ${values['idle-ms']}`);

const quiet = (): void => undefined;
const logger: NodeLogger = { info: quiet, warn: quiet, error: quiet };
const node = await LockNode.start({
  id: 1,
  members: [1],
  storage: new MemoryStorage(),
  tickMs: 100,
  electionTicks: 10,
  heartbeatTicks: 1,
  seed: 1,
  logger,
  onFatal: (error) => {
    throw error;
  },
  clock: Date.now,
  limits: defaultLimits,
  requestTimeoutMs: 5_000,
});
while (!node.status().leaderReady) await sleep(10);

async function worker(prefix: string, count: number): Promise<void> {
  for (let pair = 0; pair < count; pair++) {
    const name = `${prefix}-${pair}`;
    // What the API hands the service for each request (an AbortController costs several µs).
    const signal = new Cancellation().signal;
    const acquired = await node.acquire({
      name,
      owner: null,
      ttlMs: null,
      waitMs: 0,
      mode: 'exclusive',
      limit: null,
      signal,
    });
    if (acquired.outcome !== 'acquired') throw new Error(`acquire ${name}: ${acquired.outcome}`);
    const released = await node.release({ name, owner: null, force: false });
    if (released.outcome !== 'released') throw new Error(`release ${name}: ${released.outcome}`);
    if (idleMs > 0) await sleep(idleMs);
  }
}

async function run(label: string, total: number): Promise<void> {
  const each = Math.ceil(total / concurrency);
  await Promise.all(
    Array.from({ length: concurrency }, (_, index) => worker(`${label}${index}`, each)),
  );
}

await run('w', Math.min(warmupPairs, pairs));
const cpuBefore = process.cpuUsage();
const started = performance.now();
await run('m', pairs);
const elapsedMs = performance.now() - started;
const cpu = process.cpuUsage(cpuBefore);
const operations = 2 * Math.ceil(pairs / concurrency) * concurrency;
console.log(
  `in-process lockd, concurrency ${concurrency}, idle ${idleMs} ms: ` +
    `${((operations / elapsedMs) * 1000).toFixed(0)} operations/s, ` +
    `${((cpu.user + cpu.system) / operations).toFixed(1)} µs CPU per operation`,
);
await node.stop();
