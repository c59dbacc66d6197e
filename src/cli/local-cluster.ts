/**
 * `lockd cluster --nodes 3 [--base-port 2081] [--dir ./cluster-data]`: a local cluster in the
 * foreground, for trying lockd out. It writes a cluster file and a secret under --dir, starts one
 * lockd process per node (client ports base, base+1, …; peer ports +1000), prints where they
 * listen and which is the leader, and stops them all on Ctrl-C. The data survives restarts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from './arguments.js';
import { peerPortOffset } from './cluster-file.js';

export interface LocalClusterOptions {
  readonly nodes: number;
  readonly basePort: number;
  readonly directory: string;
}

const leaderWaitMs = 15_000;
const stopWaitMs = 10_000;

export function parseLocalClusterArguments(argv: readonly string[]): LocalClusterOptions {
  const values = new Map<string, string>();
  for (let position = 0; position < argv.length; position++) {
    const match = /^--?(nodes|base-port|dir)(?:=(.*))?$/.exec(argv[position] ?? '');
    if (match === null)
      throw new UsageError(
        `lockd cluster: unknown argument '${argv[position]}' (flags: --nodes, --base-port, --dir)`,
      );
    const value = match[2] ?? argv[++position];
    if (value === undefined) throw new UsageError(`lockd cluster: --${match[1]} needs a value`);
    values.set(match[1] ?? '', value);
  }
  const nodes = Number(values.get('nodes') ?? '3');
  if (![1, 3, 5, 7].includes(nodes))
    throw new UsageError('lockd cluster: --nodes must be 1, 3, 5 or 7');
  const basePort = Number(values.get('base-port') ?? '2081');
  if (
    !Number.isInteger(basePort) ||
    basePort < 1024 ||
    basePort + nodes + peerPortOffset > 65_535
  ) {
    throw new UsageError(
      `lockd cluster: --base-port must leave room for ${nodes} client and peer ports`,
    );
  }
  return { nodes, basePort, directory: resolve(values.get('dir') ?? './cluster-data') };
}

/** Writes (or reuses) the cluster file and secret; returns their paths. */
function prepareDirectory(options: LocalClusterOptions): {
  clusterFile: string;
  secretFile: string;
} {
  mkdirSync(options.directory, { recursive: true });
  const clusterFile = join(options.directory, 'cluster.json');
  const members: Record<string, string> = {};
  for (let id = 1; id <= options.nodes; id++)
    members[String(id)] = `127.0.0.1:${options.basePort + id - 1}`;
  const wanted = `${JSON.stringify(members, null, 2)}\n`;
  if (existsSync(clusterFile) && readFileSync(clusterFile, 'utf8') !== wanted) {
    throw new UsageError(
      `lockd cluster: ${clusterFile} describes another cluster; use another --dir or delete it`,
    );
  }
  writeFileSync(clusterFile, wanted);
  const secretFile = join(options.directory, 'cluster-secret');
  if (!existsSync(secretFile))
    writeFileSync(secretFile, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  return { clusterFile, secretFile };
}

export async function runLocalCluster(options: LocalClusterOptions): Promise<void> {
  const { clusterFile, secretFile } = prepareDirectory(options);
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const children: ChildProcess[] = [];
  for (let id = 1; id <= options.nodes; id++) {
    const dataDirectory = join(options.directory, `node-${id}`);
    const args = [
      main,
      '-cluster',
      clusterFile,
      '-id',
      String(id),
      '--data-dir',
      dataDirectory,
      '--cluster-secret-file',
      secretFile,
      '--log-level',
      'warn',
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('exit', (code, signal) => {
      if (!stopping) process.stderr.write(`lockd cluster: node ${id} exited (${code ?? signal})\n`);
    });
    children.push(child);
    process.stdout.write(
      `node ${id}: http://127.0.0.1:${options.basePort + id - 1} (peer port ${options.basePort + id - 1 + peerPortOffset}, data ${dataDirectory})\n`,
    );
  }
  let stopping = false;
  const stopAll = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('stopping the cluster…\n');
    const exits = children.map(
      (child) =>
        new Promise((resolveExit) =>
          child.exitCode !== null ? resolveExit(undefined) : child.once('exit', resolveExit),
        ),
    );
    for (const child of children) child.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const child of children) child.kill('SIGKILL');
    }, stopWaitMs);
    await Promise.all(exits);
    clearTimeout(timer);
    process.exit(0);
  };
  process.on('SIGINT', () => void stopAll());
  process.on('SIGTERM', () => void stopAll());
  const leader = await waitForLeader(options);
  process.stdout.write(
    leader === undefined
      ? `no leader after ${leaderWaitMs} ms: see the nodes' logs\n`
      : `leader: node ${leader.id} at http://${leader.address}\ncluster secret (admin bearer token) in ${secretFile}; Ctrl-C stops all nodes\n`,
  );
}

/** Asks each node's /cluster until one names a leader (bounded; nodes may still be starting). */
async function waitForLeader(
  options: LocalClusterOptions,
): Promise<{ id: number; address: string } | undefined> {
  const deadline = Date.now() + leaderWaitMs;
  while (Date.now() < deadline) {
    for (let id = 1; id <= options.nodes; id++) {
      try {
        const response = await fetch(`http://127.0.0.1:${options.basePort + id - 1}/cluster`, {
          signal: AbortSignal.timeout(1_000),
        });
        const status = (await response.json()) as {
          leader: number | null;
          leaderAddress: string | null;
        };
        if (status.leader !== null && status.leaderAddress !== null)
          return { id: status.leader, address: status.leaderAddress };
      } catch {
        // Not listening yet: the next round asks again.
      }
    }
    await new Promise((resolveDelay) => setTimeout(resolveDelay, 200));
  }
  return undefined;
}
