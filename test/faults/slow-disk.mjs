// Loaded into each lockd child of a fault run with `node --import`, before lockd itself: it lets
// the nemesis slow this node's disk syncs. LOCKD_FAULTS_DISK_CONTROL names a file; while it holds
// a positive number, every fsync and fdatasync of the process waits that many milliseconds more
// before it starts. Durability is unchanged (the real sync still runs, only later), so a slow disk
// may delay answers but must never lose or reorder an acknowledged write.
//
// Why a file and not a signal: a node killed and restarted during a slow-disk fault must come
// back just as slow, and a file read before each sync needs no state in the process. Plain
// JavaScript: the child runs the built dist/ without tsx.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';

const controlVariable = 'LOCKD_FAULTS_DISK_CONTROL';
const delayMsMax = 10_000;
const controlPath = process.env[controlVariable];

/** The delay the nemesis asks for now: 0 when the file is missing, empty or not a number. */
function currentDelayMs() {
  if (controlPath === undefined) return 0;
  let text;
  try {
    text = fs.readFileSync(controlPath, 'utf8');
  } catch {
    return 0;
  }
  const delayMs = Number(text.trim());
  return Number.isFinite(delayMs) && delayMs > 0 ? Math.min(delayMs, delayMsMax) : 0;
}

/** Blocks the thread, as a slow synchronous fsync would. */
function blockFor(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Wraps FileHandle.prototype[name] (promise-based) so that it first waits the current delay. */
function slowPromiseMethod(prototype, name) {
  const original = prototype[name];
  prototype[name] = async function slowed(...parameters) {
    const delayMs = currentDelayMs();
    if (delayMs > 0) await sleep(delayMs);
    return Reflect.apply(original, this, parameters);
  };
}

/** Wraps fs[name] (synchronous) so that it first blocks for the current delay. */
function slowSyncFunction(name) {
  const original = fs[name];
  fs[name] = function slowed(...parameters) {
    const delayMs = currentDelayMs();
    if (delayMs > 0) blockFor(delayMs);
    return Reflect.apply(original, fs, parameters);
  };
}

/** Wraps fs[name] (callback-based) so that it first waits the current delay. */
function slowCallbackFunction(name) {
  const original = fs[name];
  fs[name] = function slowed(...parameters) {
    const delayMs = currentDelayMs();
    if (delayMs === 0) return Reflect.apply(original, fs, parameters);
    setTimeout(() => Reflect.apply(original, fs, parameters), delayMs);
  };
}

if (controlPath !== undefined) {
  // FileHandle is not exported; its prototype is reached through one handle.
  const handle = await fs.promises.open(process.execPath, 'r');
  const fileHandlePrototype = Object.getPrototypeOf(handle);
  await handle.close();
  slowPromiseMethod(fileHandlePrototype, 'sync');
  slowPromiseMethod(fileHandlePrototype, 'datasync');
  slowSyncFunction('fsyncSync');
  slowSyncFunction('fdatasyncSync');
  slowCallbackFunction('fsync');
  slowCallbackFunction('fdatasync');
  // ES module imports of node:fs (`import { fsyncSync } from 'node:fs'`) see the change only
  // after this: it updates the live bindings from the CommonJS exports.
  syncBuiltinESMExports();
}
