/**
 * `npm run bench -- --million [--locks 1000000] [--concurrency 64]`: memory and recovery of one
 * durable lockd node holding a million locks. It takes that many distinct anonymous locks (no
 * owner, no ttl: held until released), reads the node's resident memory, kills it with SIGKILL,
 * restarts it on the same data directory, and times how long until it logs "lockd ready" and
 * until a GET of a held lock answers 200.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createWorkerConnection, type WorkerConnection } from './http.js';
import {
  delay,
  exited,
  makeTemporaryDirectory,
  removeTemporaryDirectory,
  stopProcess,
} from './processes.js';
import { type NodeProcess, singleNodeArguments, startNodeProcess } from './targets/lockd.js';

export interface MillionOptions {
  readonly locks: number;
  readonly concurrency: number;
  readonly markdown: boolean;
}

const requestTimeoutMs = 60_000;
/** A 503 (overloaded) or 429 is retried this many times, then the run fails. */
const attemptsPerLockMax = 20;
const retryPauseMs = 100;
const recoveryTimeoutMs = 30 * 60_000;
const probeIntervalMs = 5;
const sampleSize = 100;
/** lockd's default --max-locks; more locks than this need the flag raised. */
const defaultMaxLocks = 1_000_000;

function lockPath(index: number): string {
  return `/lock/m-${index}`;
}

interface MemoryMiB {
  readonly residentMiB: number;
  readonly peakResidentMiB: number;
}

/** VmRSS and VmHWM of a process, from /proc/PID/status (Linux). */
export function memoryOf(pid: number): MemoryMiB {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kibibytes = (field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (match?.[1] === undefined) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(match[1]);
  };
  return { residentMiB: kibibytes('VmRSS') / 1024, peakResidentMiB: kibibytes('VmHWM') / 1024 };
}

/** Bytes allocated on disk under `directory` (blocks, as du counts them). */
function diskUseBytes(directory: string): number {
  let total = 0;
  for (const entry of readdirSync(directory, { recursive: true, encoding: 'utf8' })) {
    const stats = statSync(join(directory, entry));
    if (stats.isFile()) total += stats.blocks * 512;
  }
  return total;
}

async function acquireOne(connection: WorkerConnection, index: number): Promise<number> {
  for (let attempt = 0; attempt < attemptsPerLockMax; attempt++) {
    const reply = await connection.send({
      method: 'POST',
      path: lockPath(index),
      readBody: false,
      timeoutMs: requestTimeoutMs,
    });
    if (reply.status === 200) return attempt;
    if (reply.status !== 503 && reply.status !== 429)
      throw new Error(`POST ${lockPath(index)} answered ${reply.status}`);
    await delay(retryPauseMs);
  }
  throw new Error(`POST ${lockPath(index)} refused ${attemptsPerLockMax} times`);
}

/** Takes locks 0 .. locks-1 with `concurrency` workers; returns the number of retries. */
async function acquireAll(node: NodeProcess, options: MillionOptions): Promise<number> {
  let next = 0;
  let retries = 0;
  const started = performance.now();
  const progressEvery = Math.max(1, Math.floor(options.locks / 10));
  const worker = async (): Promise<void> => {
    const connection = createWorkerConnection(node.port);
    try {
      // Each pass takes one index; together the workers take exactly `locks` of them.
      while (next < options.locks) {
        const index = next++;
        retries += await acquireOne(connection, index);
        if ((index + 1) % progressEvery === 0) printProgress(node, index + 1, started);
      }
    } finally {
      connection.close();
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return retries;
}

function printProgress(node: NodeProcess, held: number, started: number): void {
  const seconds = (performance.now() - started) / 1000;
  const rss = memoryOf(node.child.pid ?? 0).residentMiB;
  console.log(
    `  ${held} locks taken in ${seconds.toFixed(1)} s (${(held / seconds).toFixed(0)}/s), RSS ${rss.toFixed(0)} MiB`,
  );
}

async function getStatus(connection: WorkerConnection, index: number): Promise<number> {
  const reply = await connection.send({
    method: 'GET',
    path: lockPath(index),
    readBody: false,
    timeoutMs: requestTimeoutMs,
  });
  return reply.status;
}

/** Polls GET of a held lock until it answers 200; returns when it did (performance.now()). */
async function firstHeldGet(port: number, index: number): Promise<number> {
  const connection = createWorkerConnection(port);
  const attemptsMax = Math.ceil(recoveryTimeoutMs / probeIntervalMs);
  try {
    for (let attempt = 0; attempt < attemptsMax; attempt++) {
      const status = await getStatus(connection, index).catch(() => 0);
      if (status === 200) return performance.now();
      await delay(probeIntervalMs);
    }
  } finally {
    connection.close();
  }
  throw new Error(`GET ${lockPath(index)} did not answer 200 within ${recoveryTimeoutMs} ms`);
}

/** How many of `sampleSize` evenly spread locks are held, and that a never-taken one is not. */
async function checkSample(port: number, locks: number): Promise<number> {
  const connection = createWorkerConnection(port);
  try {
    const free = await getStatus(connection, locks);
    if (free !== 404) throw new Error(`GET ${lockPath(locks)} (never taken) answered ${free}`);
    let held = 0;
    const count = Math.min(sampleSize, locks);
    for (let sample = 0; sample < count; sample++) {
      const index = Math.floor((sample * locks) / count);
      if ((await getStatus(connection, index)) === 200) held += 1;
    }
    return held;
  } finally {
    connection.close();
  }
}

function nodeArguments(dataDirectory: string, locks: number): string[] {
  const args = singleNodeArguments(dataDirectory);
  return locks <= defaultMaxLocks ? args : [...args, '--max-locks', String(locks)];
}

export interface MillionResult {
  readonly acquireSeconds: number;
  readonly retries: number;
  readonly heldMemory: MemoryMiB;
  readonly diskMiB: number;
  readonly readyMs: number;
  readonly firstGetMs: number;
  readonly recoveredMemory: MemoryMiB;
  readonly sampleHeld: number;
}

async function measure(directory: string, options: MillionOptions): Promise<MillionResult> {
  const dataDirectory = join(directory, 'data');
  const first = await startNodeProcess(nodeArguments(dataDirectory, options.locks));
  const acquireStarted = performance.now();
  const retries = await acquireAll(first, options);
  const acquireSeconds = (performance.now() - acquireStarted) / 1000;
  const heldMemory = memoryOf(first.child.pid ?? 0);
  const diskMiB = diskUseBytes(dataDirectory) / 1024 ** 2;
  first.child.kill('SIGKILL');
  await exited(first.child);
  const restartStarted = performance.now();
  const second = await startNodeProcess(
    nodeArguments(dataDirectory, options.locks),
    recoveryTimeoutMs,
  );
  try {
    const firstGetAt = await firstHeldGet(second.port, options.locks - 1);
    const recoveredMemory = memoryOf(second.child.pid ?? 0);
    const sampleHeld = await checkSample(second.port, options.locks);
    const firstGetMs = firstGetAt - restartStarted;
    return {
      acquireSeconds,
      retries,
      heldMemory,
      diskMiB,
      readyMs: second.readyMs,
      firstGetMs,
      recoveredMemory,
      sampleHeld,
    };
  } finally {
    await stopProcess(second.child);
  }
}

function printResult(result: MillionResult, options: MillionOptions): void {
  const { locks } = options;
  const rate = (locks / result.acquireSeconds).toFixed(0);
  const mib = (value: number): string => `${value.toFixed(0)} MiB`;
  console.log(
    [
      `${locks} locks held, taken in ${result.acquireSeconds.toFixed(1)} s (${rate}/s, ${result.retries} retries)`,
      `lockd RSS holding them: ${mib(result.heldMemory.residentMiB)} (peak ${mib(result.heldMemory.peakResidentMiB)}); data directory ${mib(result.diskMiB)} on disk`,
      `after kill -9 and restart: "lockd ready" in ${(result.readyMs / 1000).toFixed(2)} s, first GET of a held lock 200 in ${(result.firstGetMs / 1000).toFixed(2)} s`,
      `after recovery: RSS ${mib(result.recoveredMemory.residentMiB)}; ${result.sampleHeld} of ${Math.min(sampleSize, locks)} sampled locks held`,
    ].join('\n'),
  );
  if (!options.markdown) return;
  console.log(
    [
      '',
      '| locks held | taken in s | RSS held MiB | data on disk MiB | kill -9 → ready s | kill -9 → first GET 200 s | RSS after recovery MiB |',
      '|---:|---:|---:|---:|---:|---:|---:|',
      `| ${locks} | ${result.acquireSeconds.toFixed(1)} | ${result.heldMemory.residentMiB.toFixed(0)} | ${result.diskMiB.toFixed(0)} | ${(result.readyMs / 1000).toFixed(2)} | ${(result.firstGetMs / 1000).toFixed(2)} | ${result.recoveredMemory.residentMiB.toFixed(0)} |`,
    ].join('\n'),
  );
}

export async function runMillion(options: MillionOptions): Promise<void> {
  if (!(Number.isInteger(options.locks) && options.locks >= 1))
    throw new Error(`--locks must be a whole number >= 1, got ${options.locks}`);
  console.log(
    `lockd million: ${options.locks} anonymous locks on one durable node, ${options.concurrency} at a time, ${new Date().toISOString()}`,
  );
  const directory = makeTemporaryDirectory('lockd-bench-million-');
  let result: MillionResult;
  try {
    result = await measure(directory, options);
  } finally {
    removeTemporaryDirectory(directory);
  }
  printResult(result, options);
  if (result.sampleHeld !== Math.min(sampleSize, options.locks))
    throw new Error('some locks taken before the kill were not held after recovery');
}
