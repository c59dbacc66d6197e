/**
 * The processes and temporary directories a benchmark starts, tracked so that every one of them
 * is stopped and removed when the run ends: normally, on an error, or on Ctrl-C.
 */
import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const runningProcesses = new Set<ChildProcess>();
const temporaryDirectories = new Set<string>();
const stopGraceMs = 10_000;

/** Starts a process that `stopEverything` (or the exit of this process) will stop. */
export function spawnTracked(
  command: string,
  args: readonly string[],
  options: SpawnOptions,
): ChildProcess {
  const child = spawn(command, args, options);
  runningProcesses.add(child);
  child.once('exit', () => runningProcesses.delete(child));
  // A failure to start (ENOENT) arrives as an 'error' event; without a listener it would crash
  // the generator instead of failing the one target that needed the command.
  child.once('error', () => runningProcesses.delete(child));
  return child;
}

/** A new empty directory under the system's temp directory, removed at exit if not before. */
export function makeTemporaryDirectory(prefix: string): string {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  temporaryDirectories.add(directory);
  return directory;
}

export function removeTemporaryDirectory(directory: string): void {
  rmSync(directory, { recursive: true, force: true });
  temporaryDirectories.delete(directory);
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Waits until the process has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (hasExited(child) || child.pid === undefined) return Promise.resolve();
  return new Promise((resolveExit) => child.once('exit', () => resolveExit()));
}

/**
 * Asks the process to stop with `signal`; if it is still running after the grace period it is
 * killed, so that a server stuck in shutdown cannot hang the benchmark.
 */
export async function stopProcess(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  if (hasExited(child) || child.pid === undefined) return;
  const exit = exited(child);
  child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<'late'>((resolveLate) => {
    timer = setTimeout(() => resolveLate('late'), stopGraceMs);
  });
  const outcome = await Promise.race([exit.then(() => 'exited' as const), grace]);
  clearTimeout(timer);
  if (outcome === 'late') {
    child.kill('SIGKILL');
    await exit;
  }
}

/** Kills every tracked process at once and removes every temporary directory. Synchronous. */
function killEverythingNow(): void {
  for (const child of runningProcesses) if (!hasExited(child)) child.kill('SIGKILL');
  runningProcesses.clear();
  for (const directory of temporaryDirectories) rmSync(directory, { recursive: true, force: true });
  temporaryDirectories.clear();
}

/**
 * Makes Ctrl-C, SIGTERM and any exit of this process stop what the benchmark started. Servers are
 * killed rather than stopped gracefully on an interrupt: the user wants the terminal back, and
 * every server's data lives in a temporary directory that is removed anyway.
 */
export function installCleanupHandlers(): void {
  const onSignal = (signal: NodeJS.Signals): void => {
    const count = runningProcesses.size;
    process.stderr.write(`\n${signal}: stopping ${count} started process(es) and exiting\n`);
    killEverythingNow();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', killEverythingNow);
}

/** Stops every tracked process gracefully (SIGTERM, then SIGKILL after the grace period). */
export async function stopEverything(): Promise<void> {
  await Promise.all([...runningProcesses].map((child) => stopProcess(child)));
  killEverythingNow();
}

/**
 * A port the system picked a moment ago, released for a server to take. Another process could
 * take it in between; on a benchmark machine that race is rare enough to accept.
 */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error('no port was assigned');
  return port;
}

/**
 * `count` distinct ports, as freePort. Each is held until all are picked: one released at once
 * could be handed out again by the next pick, and a cluster would name one port twice.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let picked = 0; picked < count; picked++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolveListen, rejectListen) => {
        server.once('error', rejectListen);
        server.listen(0, '127.0.0.1', resolveListen);
      });
    }
    return servers.map((server) => {
      const address = server.address();
      if (typeof address !== 'object' || address === null) throw new Error('no port was assigned');
      return address.port;
    });
  } finally {
    await Promise.all(
      servers.map(
        (server) => new Promise<void>((resolveClose) => server.close(() => resolveClose())),
      ),
    );
  }
}

export function delay(milliseconds: number): Promise<void> {
  return new Promise((resolveDelay) => setTimeout(resolveDelay, milliseconds));
}

/** The promise's value, or undefined if it has not settled within `timeoutMs`. */
async function withinMs<T>(promise: Promise<T>, timeoutMs: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolveLate) => {
    timer = setTimeout(() => resolveLate(undefined), Math.max(0, timeoutMs));
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Calls `probe` every `intervalMs` until it returns a value other than undefined, or throws once
 * `timeoutMs` has passed (naming `what`). A probe that throws counts as "not yet"; one that hangs
 * past the deadline ends the wait.
 */
export async function pollUntil<T>(options: {
  readonly what: string;
  readonly timeoutMs: number;
  readonly intervalMs: number;
  readonly probe: () => Promise<T | undefined>;
}): Promise<T> {
  const deadline = performance.now() + options.timeoutMs;
  const attemptsMax = Math.ceil(options.timeoutMs / options.intervalMs) + 1;
  let lastError = '';
  for (let attempt = 0; attempt < attemptsMax && performance.now() < deadline; attempt++) {
    try {
      const value = await withinMs(options.probe(), deadline - performance.now());
      if (value !== undefined) return value;
    } catch (error) {
      lastError = ` (last error: ${(error as Error).message})`;
    }
    await delay(options.intervalMs);
  }
  throw new Error(`${options.what} did not happen within ${options.timeoutMs} ms${lastError}`);
}

let clockTicksPerSecond: number | undefined;

/** The kernel's unit of process CPU time in /proc (USER_HZ; 100 on every common Linux). */
function ticksPerSecond(): number {
  if (clockTicksPerSecond === undefined) {
    const text = execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim();
    const ticks = Number(text);
    if (!(Number.isInteger(ticks) && ticks > 0)) throw new Error(`getconf CLK_TCK gave "${text}"`);
    clockTicksPerSecond = ticks;
  }
  return clockTicksPerSecond;
}

/** User plus system CPU time of one process and all its threads, from /proc/<pid>/stat. */
function processCpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const userTicks = Number(fields[11]);
  const systemTicks = Number(fields[12]);
  if (!(Number.isFinite(userTicks) && Number.isFinite(systemTicks)))
    throw new Error(`/proc/${pid}/stat has no CPU times: ${stat}`);
  return userTicks + systemTicks;
}

/**
 * The CPU time the processes have used so far, in microseconds, or undefined where /proc cannot
 * tell (not Linux, or a process gone): the report then leaves the server's CPU blank.
 */
export function processesCpuMicroseconds(pids: readonly number[]): number | undefined {
  try {
    let ticks = 0;
    for (const pid of pids) ticks += processCpuTicks(pid);
    return (ticks / ticksPerSecond()) * 1_000_000;
  } catch {
    return undefined;
  }
}

/** The ids of the children that started (a failed spawn has none). */
export function pidsOf(children: readonly ChildProcess[]): number[] {
  return children.flatMap((child) => (child.pid === undefined ? [] : [child.pid]));
}
