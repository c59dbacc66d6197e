/**
 * One lockd process of a fault run: the built CLI (dist/) in a child process, with the fault hooks
 * loaded first (peer-routes.mjs reroutes its peer connections, slow-disk.mjs delays its syncs) and
 * its own environment. test/support/lockd-process.ts cannot pass either, hence this small sibling. The child's output is kept, bounded, for reports.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { cliPath } from '../support/lockd-process.js';

const peerRoutesHook = pathToFileURL(resolve(import.meta.dirname, 'peer-routes.mjs')).href;
export const peerRoutesVariable = 'LOCKD_FAULTS_PEER_ROUTES';
const slowDiskHook = pathToFileURL(resolve(import.meta.dirname, 'slow-disk.mjs')).href;
export const diskControlVariable = 'LOCKD_FAULTS_DISK_CONTROL';

/** Lines of a child's output kept for a report: the last ones, where a failure shows. */
const outputLinesMax = 400;

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface LockdChild {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The last lines it printed on stdout and stderr. */
  readonly output: string[];
  readonly exited: Promise<ChildExit>;
}

/**
 * Copies the built lockd (dist/, package.json, and a link to node_modules) into `directory` and
 * returns the CLI path there. A run restarts nodes for minutes; a `npm run build` elsewhere in the
 * meantime would otherwise hand a restarting node a half-written dist/.
 */
export function snapshotBuild(directory: string): string {
  const repository = resolve(dirname(cliPath), '../..');
  mkdirSync(directory, { recursive: true });
  cpSync(join(repository, 'dist'), join(directory, 'dist'), { recursive: true });
  copyFileSync(join(repository, 'package.json'), join(directory, 'package.json'));
  symlinkSync(join(repository, 'node_modules'), join(directory, 'node_modules'), 'dir');
  return join(directory, 'dist', 'cli', 'main.js');
}

export interface SpawnOptions {
  /** The lockd CLI to run: `cliPath`, or a copy from snapshotBuild. */
  readonly cliPath: string;
  readonly args: readonly string[];
  /** The peer's real `host:port` → the proxy's `host:port` this node must dial instead. */
  readonly peerRoutes: ReadonlyMap<string, string>;
  /** A file holding how many ms each of the node's syncs waits first (slow-disk.mjs). */
  readonly diskControlPath: string;
  readonly readyTimeoutMs: number;
}

/** Starts lockd and waits for its `lockd ready` line; kills it if that does not come in time. */
export async function spawnLockd(options: SpawnOptions): Promise<LockdChild> {
  const child = spawn(
    process.execPath,
    ['--import', peerRoutesHook, '--import', slowDiskHook, options.cliPath, ...options.args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        [peerRoutesVariable]: JSON.stringify(Object.fromEntries(options.peerRoutes)),
        [diskControlVariable]: options.diskControlPath,
      },
    },
  );
  const output: string[] = [];
  const remember = (line: string): void => {
    output.push(line);
    if (output.length > outputLinesMax) output.splice(0, output.length - outputLinesMax);
  };
  const exited = new Promise<ChildExit>((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit({ code, signal }));
  });
  createInterface({ input: child.stderr }).on('line', remember);
  const ready = new Promise<void>((resolveReady, rejectReady) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      remember(line);
      if (line.includes('"msg":"lockd ready"')) resolveReady();
    });
    void exited.then((exit) =>
      rejectReady(
        new Error(
          `lockd exited (${exit.code ?? exit.signal}) before it was ready:\n${output.slice(-30).join('\n')}`,
        ),
      ),
    );
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.readyTimeoutMs);
  try {
    await ready;
  } finally {
    clearTimeout(timer);
  }
  if (child.pid === undefined) throw new Error('lockd started without a process id');
  return { child, pid: child.pid, output, exited };
}
