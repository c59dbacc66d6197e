/**
 * Finds the servers the comparison needs and, when one is missing, installs its Debian package
 * with apt-get (the benchmark machines run Debian as root). A target whose server cannot be had
 * is skipped with the reason, never silently.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface Requirement {
  readonly command: string;
  readonly debianPackage: string;
}

export type Availability =
  | { readonly available: true; readonly path: string; readonly version: string }
  | { readonly available: false; readonly reason: string };

const outputTailChars = 2000;
const installTimeoutMs = 15 * 60_000;
const extraDirectories = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin'];

export function findExecutable(command: string): string | undefined {
  const directories = [...(process.env.PATH ?? '').split(delimiter), ...extraDirectories];
  for (const directory of directories) {
    if (directory === '') continue;
    const candidate = join(directory, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory: try the next one.
    }
  }
  return undefined;
}

interface CommandResult {
  readonly exitCode: number | null;
  /** The last characters of stdout and stderr together, for an error message. */
  readonly outputTail: string;
}

function runCommand(command: string, args: readonly string[]): Promise<CommandResult> {
  return new Promise((resolveResult) => {
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: installTimeoutMs,
    });
    let outputTail = '';
    const keep = (chunk: Buffer): void => {
      outputTail = (outputTail + chunk.toString('utf8')).slice(-outputTailChars);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (error) => resolveResult({ exitCode: null, outputTail: error.message }));
    child.once('close', (exitCode) => resolveResult({ exitCode, outputTail }));
  });
}

/** The first line of `command --version`, or 'unknown version'. */
export async function versionOf(path: string): Promise<string> {
  const result = await runCommand(path, ['--version']);
  const firstLine = result.outputTail.split('\n').find((line) => line.trim() !== '');
  return result.exitCode === 0 && firstLine !== undefined ? firstLine.trim() : 'unknown version';
}

async function aptInstall(packages: readonly string[]): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not installed, and apt-get needs root';
  if (findExecutable('apt-get') === undefined) return 'not installed, and there is no apt-get';
  console.log(`installing ${packages.join(' ')} (apt-get update && apt-get install -y) ...`);
  const update = await runCommand('apt-get', ['update']);
  if (update.exitCode !== 0) return `apt-get update failed:\n${update.outputTail}`;
  const install = await runCommand('apt-get', ['install', '-y', ...packages]);
  if (install.exitCode !== 0) return `apt-get install failed:\n${install.outputTail}`;
  return undefined;
}

/**
 * Every requirement's executable and version, installing the missing ones' packages in one
 * apt-get run first.
 */
export async function ensureInstalled(
  requirements: readonly Requirement[],
): Promise<Map<string, Availability>> {
  const missing = requirements.filter(({ command }) => findExecutable(command) === undefined);
  const installFailure =
    missing.length === 0 ? undefined : await aptInstall(missing.map((r) => r.debianPackage));
  const availability = new Map<string, Availability>();
  for (const { command, debianPackage } of requirements) {
    const path = findExecutable(command);
    if (path !== undefined) {
      availability.set(command, { available: true, path, version: await versionOf(path) });
      continue;
    }
    const reason =
      installFailure ?? `apt-get installed ${debianPackage} but no ${command} is on PATH`;
    availability.set(command, { available: false, reason });
  }
  return availability;
}
