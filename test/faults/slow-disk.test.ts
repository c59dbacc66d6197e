/**
 * The slow-disk hook (slow-disk.mjs) really delays a child's syncs, the promise, callback and
 * synchronous kinds alike, by what its control file says, and the synced data is still written.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { diskControlVariable } from './lockd-child.js';

const hook = pathToFileURL(resolve(import.meta.dirname, 'slow-disk.mjs')).href;

// Times one sync of each kind in a child with the hook loaded; prints them as JSON.
const probe = `
import fs from 'node:fs';
import { fdatasyncSync, fsyncSync } from 'node:fs';
const path = process.argv[1];
const timed = async (sync) => { const start = performance.now(); await sync(); return performance.now() - start; };
const handle = await fs.promises.open(path, 'w');
await handle.write('written');
const datasyncMs = await timed(() => handle.datasync());
const syncMs = await timed(() => handle.sync());
const descriptor = fs.openSync(path, 'r+');
const fsyncSyncMs = await timed(() => fsyncSync(descriptor));
const fdatasyncSyncMs = await timed(() => fdatasyncSync(descriptor));
const callbackMs = await timed(() => new Promise((done, fail) => fs.fdatasync(descriptor, (error) => (error ? fail(error) : done()))));
fs.closeSync(descriptor);
await handle.close();
console.log(JSON.stringify({ datasyncMs, syncMs, fsyncSyncMs, fdatasyncSyncMs, callbackMs }));
`;

function runProbe(directory: string, controlText: string | undefined): Record<string, number> {
  const controlPath = join(directory, 'delay-ms');
  rmSync(controlPath, { force: true });
  if (controlText !== undefined) writeFileSync(controlPath, controlText);
  const output = execFileSync(
    process.execPath,
    ['--import', hook, '--input-type=module', '--eval', probe, join(directory, 'data')],
    { env: { ...process.env, [diskControlVariable]: controlPath }, encoding: 'utf8' },
  );
  return JSON.parse(output) as Record<string, number>;
}

describe('the slow-disk hook', () => {
  test('every kind of sync waits the delay in the control file, and the data is written', () => {
    const directory = mkdtempSync(join(tmpdir(), 'lockd-slow-disk-'));
    try {
      const timings = runProbe(directory, '150\n');
      assert.deepEqual(Object.keys(timings).sort(), [
        'callbackMs',
        'datasyncMs',
        'fdatasyncSyncMs',
        'fsyncSyncMs',
        'syncMs',
      ]);
      for (const [kind, ms] of Object.entries(timings)) {
        // Timers may fire up to a millisecond early by their own rounding.
        assert.ok(ms >= 149, `${kind} took ${ms} ms, not the 150 ms asked`);
      }
      assert.equal(readFileSync(join(directory, 'data'), 'utf8'), 'written');
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test('without a control file, or with one that is not a positive number, syncs are not delayed', () => {
    const directory = mkdtempSync(join(tmpdir(), 'lockd-slow-disk-'));
    try {
      for (const control of [undefined, '0', 'fast', '-5']) {
        const timings = runProbe(directory, control);
        // A real sync on this disk is well under a second; the delays asked for are 0.
        for (const [kind, ms] of Object.entries(timings)) {
          assert.ok(ms < 1_000, `${kind} took ${ms} ms with control ${control}`);
        }
      }
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
