// The leader's expiry timer on its own: one timer for the soonest deadline, bounded batches, never
// two expire proposals for one hold, a back-off after a refused proposal.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LeaseDeadline } from '../../src/locks/state-machine.js';
import { ExpiryScheduler, expiryDefaults } from '../../src/node/expiry.js';
import { FakeTime } from './fake-time.js';

interface Harness {
  readonly time: FakeTime;
  readonly expiry: ExpiryScheduler;
  /** The leases, kept sorted by deadline as the state machine does. */
  deadlines: LeaseDeadline[];
  readonly proposed: number[];
  refuse: boolean;
}

function harness(startMs = 0): Harness {
  const time = new FakeTime(startMs);
  const state: Harness = {
    time,
    deadlines: [],
    proposed: [],
    refuse: false,
    expiry: new ExpiryScheduler({
      scheduler: time,
      now: time.clock,
      deadlines: () => state.deadlines,
      proposeExpire: (deadline) => {
        if (state.refuse) return false;
        state.proposed.push(deadline.token);
        return true;
      },
    }),
  };
  return state;
}

function leases(...pairs: [number, number][]): LeaseDeadline[] {
  return pairs
    .map(([expiresAtMs, token]) => ({ expiresAtMs, token, name: `lock-${token}` }))
    .sort((left, right) => left.expiresAtMs - right.expiresAtMs || left.token - right.token);
}

describe('ExpiryScheduler', () => {
  test('proposes nothing before start, then each overdue hold once, at its deadline', () => {
    const h = harness();
    h.deadlines = leases([100, 1], [200, 2]);
    h.time.advance(500);
    assert.deepEqual(h.proposed, []);
    h.expiry.start();
    h.time.advance(0);
    assert.deepEqual(h.proposed, [1, 2]);
    // Still in flight (the entries did not apply): no second proposal.
    h.time.advance(1_000);
    h.expiry.rearm();
    h.time.advance(0);
    assert.deepEqual(h.proposed, [1, 2]);
    assert.equal(h.expiry.inFlight, 2);
  });

  test('one timer, for the soonest deadline; re-armed when a sooner one appears', () => {
    const h = harness();
    h.deadlines = leases([1_000, 1]);
    h.expiry.start();
    assert.equal(h.time.pendingTimers, 1);
    h.deadlines = leases([1_000, 1], [300, 2]);
    h.expiry.rearm();
    assert.equal(h.time.pendingTimers, 1);
    h.time.advance(299);
    assert.deepEqual(h.proposed, []);
    h.time.advance(1);
    assert.deepEqual(h.proposed, [2]);
    h.deadlines = leases([1_000, 1]);
    h.expiry.settled(2);
    h.time.advance(699);
    assert.deepEqual(h.proposed, [2]);
    h.time.advance(1);
    assert.deepEqual(h.proposed, [2, 1]);
  });

  test('a batch is bounded; the next batch follows at once', () => {
    const h = harness();
    h.deadlines = leases(
      ...Array.from({ length: 300 }, (_, index) => [10, index + 1] as [number, number]),
    );
    h.expiry.start();
    h.time.advance(10);
    assert.equal(h.proposed.length, 300);
    assert.equal(new Set(h.proposed).size, 300);
    assert.ok(expiryDefaults.batchMax < 300, 'the case needs more holds than one batch');
  });

  test('in flight is bounded: no more proposals until some settle', () => {
    const h = harness();
    const count = expiryDefaults.inFlightMax + 10;
    h.deadlines = leases(
      ...Array.from({ length: count }, (_, index) => [10, index + 1] as [number, number]),
    );
    h.expiry.start();
    h.time.advance(10);
    assert.equal(h.proposed.length, expiryDefaults.inFlightMax);
    h.deadlines = h.deadlines.slice(1);
    h.expiry.settled(1);
    h.time.advance(0);
    assert.equal(h.proposed.length, expiryDefaults.inFlightMax + 1);
  });

  test('a refused proposal is retried after a back-off, not at once', () => {
    const h = harness();
    h.deadlines = leases([10, 1]);
    h.expiry.start();
    h.refuse = true;
    h.time.advance(10);
    h.expiry.rearm();
    h.refuse = false;
    h.time.advance(expiryDefaults.retryDelayMs - 1);
    assert.deepEqual(h.proposed, []);
    h.time.advance(1);
    assert.deepEqual(h.proposed, [1]);
  });

  test('stop cancels the timer and forgets what was in flight', () => {
    const h = harness();
    h.deadlines = leases([10, 1]);
    h.expiry.start();
    h.expiry.stop();
    assert.equal(h.time.pendingTimers, 0);
    h.time.advance(100);
    assert.deepEqual(h.proposed, []);
    assert.equal(h.expiry.running, false);
  });
});
