/**
 * What one WAL append costs on this machine's disk, done three ways: on libuv's thread pool
 * (`FileHandle.write` + `datasync`, as WalStorage appended before), fully inline (`writeSync` +
 * `fdatasyncSync`, as WalStorage appends now), and the write inline with the fdatasync on the
 * pool (`writeSync` + `fs.fdatasync`, as WalStorage did at af790dc). Prints the latency and the
 * process's CPU per append for each, in turn so that all see the same disk.
 *
 *   node --import tsx bench/fsync.ts [--appends 2000] [--bytes 300] [--rounds 2]
 */
import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    appends: { type: 'string', default: '2000' },
    bytes: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '2' },
  },
});
const appends = Number(values.appends);
const bytes = Number(values.bytes);
const rounds = Number(values.rounds);
const wholeIn = (value: number, min: number, max: number): boolean =>
  Number.isInteger(value) && value >= min && value <= max;
if (!wholeIn(appends, 1, 1_000_000) || !wholeIn(bytes, 1, 1 << 20) || !wholeIn(rounds, 1, 100)) {
  throw new Error('--appends 1..1000000, --bytes 1..1048576 and --rounds 1..100, whole numbers');
}

interface Cost {
  readonly latencyUs: number;
  readonly cpuUs: number;
}

const directory = mkdtempSync(join(tmpdir(), 'lockd-fsync-'));
const payload = Buffer.alloc(bytes, 0x6c);

async function measure(append: (position: number) => Promise<void> | void): Promise<Cost> {
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  for (let count = 0; count < appends; count++) await append(count * bytes);
  const cpu = process.cpuUsage(cpuBefore);
  return {
    latencyUs: ((performance.now() - started) * 1000) / appends,
    cpuUs: (cpu.user + cpu.system) / appends,
  };
}

async function inline(file: string): Promise<Cost> {
  const descriptor = openSync(file, 'w');
  try {
    return await measure((position) => {
      writeSync(descriptor, payload, 0, payload.length, position);
      fdatasyncSync(descriptor);
    });
  } finally {
    closeSync(descriptor);
  }
}

async function writeInlineSyncOnPool(file: string): Promise<Cost> {
  const descriptor = openSync(file, 'w');
  try {
    return await measure(async (position) => {
      writeSync(descriptor, payload, 0, payload.length, position);
      await new Promise<void>((resolve, reject) =>
        fdatasync(descriptor, (error) => (error === null ? resolve() : reject(error))),
      );
    });
  } finally {
    closeSync(descriptor);
  }
}

async function threadPool(file: string): Promise<Cost> {
  const handle = await open(file, 'w');
  try {
    return await measure(async (position) => {
      await handle.write(payload, 0, payload.length, position);
      await handle.datasync();
    });
  } finally {
    await handle.close();
  }
}

function line(label: string, cost: Cost): string {
  return `${label.padEnd(44)} ${cost.latencyUs.toFixed(0).padStart(6)} µs  ${cost.cpuUs.toFixed(0).padStart(6)} µs`;
}

try {
  console.log(`${appends} appends of ${bytes} bytes, each followed by fdatasync, in ${directory}`);
  console.log(`${'way'.padEnd(44)} latency  CPU (per append)`);
  for (let round = 1; round <= rounds; round++) {
    const onPool = await threadPool(join(directory, `pool-${round}`));
    const onLoop = await inline(join(directory, `inline-${round}`));
    const mixed = await writeInlineSyncOnPool(join(directory, `mixed-${round}`));
    console.log(line(`round ${round}: thread pool (fs.promises)`, onPool));
    console.log(line(`round ${round}: inline (writeSync+fdatasyncSync)`, onLoop));
    console.log(line(`round ${round}: writeSync + fdatasync on the pool`, mixed));
    console.log(
      `round ${round}: against inline, the thread pool costs ${(onPool.latencyUs - onLoop.latencyUs).toFixed(0)} µs more latency and ${(onPool.cpuUs - onLoop.cpuUs).toFixed(0)} µs more CPU per append; the fdatasync alone on the pool ${(mixed.latencyUs - onLoop.latencyUs).toFixed(0)} µs and ${(mixed.cpuUs - onLoop.cpuUs).toFixed(0)} µs`,
    );
  }
} finally {
  rmSync(directory, { recursive: true, force: true });
}
