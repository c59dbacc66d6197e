// The benchmark's reading of a server's CPU time from /proc (bench/processes.ts).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { processesCpuMicroseconds } from '../../bench/processes.js';

describe('processesCpuMicroseconds', { skip: !existsSync('/proc/self/stat') && 'no /proc' }, () => {
  test('grows by about the CPU this process burns', () => {
    const before = processesCpuMicroseconds([process.pid]);
    const ownBefore = process.cpuUsage();
    // Burn 100 ms of CPU, however long a starved machine takes to give it (at most 10 s).
    const giveUpAt = performance.now() + 10_000;
    let burned = 0;
    while (burned < 100_000 && performance.now() < giveUpAt) {
      const own = process.cpuUsage(ownBefore);
      burned = own.user + own.system;
    }
    const after = processesCpuMicroseconds([process.pid]);
    assert.ok(before !== undefined && after !== undefined);
    const counted = after - before;
    // /proc counts whole clock ticks (10 ms at USER_HZ 100), and V8's and libuv's threads run
    // between the readings: a wrong field or unit would be off by far more than these bounds.
    assert.ok(burned >= 100_000, `only ${burned} µs of CPU in 10 s`);
    assert.ok(
      counted >= burned - 20_000 && counted <= 2 * burned + 20_000,
      `${counted} vs ${burned} µs`,
    );
  });

  test('is undefined when a process is gone, not a partial sum', () => {
    assert.equal(processesCpuMicroseconds([process.pid, 2 ** 22 + 1]), undefined);
  });
});
