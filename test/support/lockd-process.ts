import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

/** The built CLI: tests run what `npm start` runs (`npm test` builds it first). */
export const cliPath = resolve(import.meta.dirname, '../../dist/cli/main.js');

export function makeTemporaryDirectory(): { readonly path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'lockd-test-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface LockdProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly port: number;
  /** Every line the process printed on stdout and stderr so far. */
  readonly output: string[];
  /** Resolves with the exit code (or signal) once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `lockd` on 127.0.0.1 with a port chosen by the system and waits for its `lockd ready`
 * log line, which carries the real URL. Fails if the process exits first or is not ready in time.
 */
export async function startLockd(
  args: readonly string[],
  options: { readonly chooseListen?: boolean; readonly readyTimeoutMs?: number } = {},
): Promise<LockdProcess> {
  const listen = options.chooseListen === false ? [] : ['--listen', '127.0.0.1:0'];
  const child = spawn(process.execPath, [cliPath, ...listen, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolveExit) => {
      child.once('exit', (code, signal) => resolveExit({ code, signal }));
    },
  );
  createInterface({ input: child.stderr }).on('line', (line) => output.push(line));
  const ready = new Promise<{ url: string; port: number }>((resolveReady, rejectReady) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      output.push(line);
      const record = parseLogLine(line);
      if (record?.msg === 'lockd ready')
        resolveReady({ url: String(record.url), port: Number(record.port) });
    });
    void exited.then(({ code, signal }) =>
      rejectReady(
        new Error(`lockd exited (${code ?? signal}) before ready:\n${output.join('\n')}`),
      ),
    );
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.readyTimeoutMs ?? 15_000);
  try {
    const { url, port } = await ready;
    return { child, url, port, output, exited };
  } finally {
    clearTimeout(timer);
  }
}

function parseLogLine(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Ports that were free a moment ago: the benchmark's helpers (several are picked together). */
export { freePort as findFreePort, freePorts as findFreePorts } from '../../bench/processes.js';

export async function killHard(lockd: LockdProcess): Promise<void> {
  lockd.child.kill('SIGKILL');
  await lockd.exited;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One HTTP request with the path sent exactly as given (no URL normalisation, unlike fetch). */
export function rawRequest(
  port: number,
  method: string,
  path: string,
  body?: string,
  headers: Readonly<Record<string, string>> = {},
): Promise<RawResponse> {
  return new Promise((resolveResponse, rejectResponse) => {
    const outgoing = request(
      { host: '127.0.0.1', port, method, path, agent: false, headers },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolveResponse({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        response.on('error', rejectResponse);
      },
    );
    outgoing.on('error', rejectResponse);
    outgoing.setTimeout(10_000, () => outgoing.destroy(new Error(`${method} ${path} timed out`)));
    outgoing.end(body);
  });
}
