/**
 * One lockd process per data directory. The WAL has no lock of its own, and LMDB is built for many processes sharing one environment
 * (its own `raft.mdb-lock` file coordinates them), so it cannot tell us that a second lockd opened
 * the same directory, and two Raft nodes writing one log would break every safety property.
 *
 * The guard is a file `LOCK` in the data directory holding the owner's pid. It is created
 * atomically: the pid is written to a private temporary file which is then hard-linked to `LOCK`
 * (link fails with EEXIST when `LOCK` exists, and a reader never sees a half-written file).
 * A `LOCK` left behind by a process that died (SIGKILL, power loss) is stale: its pid is no longer
 * alive, so it is removed and taken over. Limits, accepted: a stale pid reused by an unrelated
 * live process blocks the start until a human removes `LOCK`, and two processes taking over the
 * same stale file at the same instant may race (one of them then reports the directory in use
 * only on the next attempt).
 */
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const lockFileName = 'LOCK';

/** Lock files this process holds, so that a stale file carrying our own pid is recognised. */
const heldByThisProcess = new Set<string>();

/** Two attempts: the first may find a stale file, which is removed before the second. */
const acquireAttemptsMax = 2;

export class DataDirInUseError extends Error {
  override readonly name = 'DataDirInUseError';
  readonly holderPid: number;

  constructor(dataDir: string, lockPath: string, holderPid: number) {
    super(
      `lockd data directory ${dataDir} is in use by process ${holderPid} (lock file ${lockPath}). ` +
        'Stop that process first; if it is not a lockd process, remove the lock file.',
    );
    this.holderPid = holderPid;
  }
}

export class DataDirLock {
  readonly path: string;
  #held = true;

  private constructor(path: string) {
    this.path = path;
  }

  /** Takes the data directory (which must exist) or throws DataDirInUseError. */
  static acquire(dataDir: string): DataDirLock {
    const path = resolve(join(dataDir, lockFileName));
    for (let attempt = 0; attempt < acquireAttemptsMax; attempt++) {
      if (tryCreate(path)) {
        heldByThisProcess.add(path);
        return new DataDirLock(path);
      }
      const holderPid = readHolderPid(path);
      if (holderPid !== undefined && isHeld(path, holderPid)) {
        throw new DataDirInUseError(dataDir, path, holderPid);
      }
      removeIfPresent(path);
    }
    throw new Error(
      `could not take ${path}: it reappeared after its stale copy was removed; another process is starting on ${dataDir}`,
    );
  }

  /** Gives the directory up. Idempotent. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    heldByThisProcess.delete(this.path);
    if (readHolderPid(this.path) === process.pid) removeIfPresent(this.path);
  }
}

function tryCreate(path: string): boolean {
  const temporaryPath = `${path}.${process.pid}.tmp`;
  writeFileSync(temporaryPath, `${process.pid}\n`);
  try {
    linkSync(temporaryPath, path);
    return true;
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    throw error;
  } finally {
    removeIfPresent(temporaryPath);
  }
}

/** The pid in the lock file, or undefined when it vanished or holds no pid (a stale leftover). */
function readHolderPid(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

function isHeld(path: string, holderPid: number): boolean {
  // Our own pid in a file we do not hold is a leftover of an earlier process that had our pid
  // (common in containers, where lockd is often pid 1).
  if (holderPid === process.pid) return heldByThisProcess.has(path);
  try {
    process.kill(holderPid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user, so it is alive.
    if (errorCode(error) === 'EPERM') return true;
    if (errorCode(error) === 'ESRCH') return false;
    throw error;
  }
}

function removeIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
}

function errorCode(error: unknown): string | undefined {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return undefined;
}
