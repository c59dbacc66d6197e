// The benchmark's reading of a server's CPU time from /proc (bench/processes.ts).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { processesCpuMicroseconds } from '../../bench/processes.js';

describe('processesCpuMicroseconds', { skip: !existsSync('/proc/self/stat') && 'no /proc' }, () => {
  test('grows by about the CPU this process burns', () => {
    const before = processesCpuMicroseconds([process.pid]);
    const ownBefore = process.cpuUsage();
    const burnUntil = performance.now() + 200;
    while (performance.now() < burnUntil) {}
    const after = processesCpuMicroseconds([process.pid]);
    const own = process.cpuUsage(ownBefore);
    assert.ok(before !== undefined && after !== undefined);
    const burned = own.user + own.system;
    // /proc counts in clock ticks (10 ms at USER_HZ 100): allow two ticks either way.
    assert.ok(Math.abs(after - before - burned) <= 20_000, `${after - before} vs ${burned} µs`);
  });

  test('is undefined when a process is gone, not a partial sum', () => {
    assert.equal(processesCpuMicroseconds([process.pid, 2 ** 22 + 1]), undefined);
  });
});
