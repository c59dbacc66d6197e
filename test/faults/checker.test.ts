// The history checker: hand-written histories with exact verdicts, random histories that are
// linearizable by construction, mutations that must be caught, the search bound, and speed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type CheckResult, checkHistory, formatViolation, type ViolationKind } from './checker.js';
import {
  type ClientStep,
  conflict,
  HistoryBuilder,
  lost,
  notLocked,
  notOwner,
  ok,
  randomWorkload,
  simulateHistory,
} from './checker-histories.js';
import type { History, Operation, OperationKind, Outcome } from './history.js';
import { searchLinearization } from './linearizability.js';
import {
  applyDefinite,
  applyUnknownEffect,
  expireBefore,
  initialLockState,
  type LockModelState,
  stateKey,
} from './lock-model.js';

const seed = Number(process.env.LOCKD_TEST_SEED ?? 0x10c4);

function kindsOf(result: CheckResult): ViolationKind[] {
  return result.violations.map((violation) => violation.kind);
}

/** Asserts the verdict, printing the violations when it is not the expected one. */
function assertVerdict(result: CheckResult, expected: readonly ViolationKind[]): void {
  const report = result.violations.map(formatViolation).join('\n\n');
  assert.deepEqual(kindsOf(result), expected, report);
  assert.deepEqual(result.inconclusive, []);
  assert.equal(result.ok, expected.length === 0, report);
}

describe('histories that are linearizable pass', () => {
  test('a sequential history of grants, checks, refreshes, conflicts and releases', () => {
    const history = new HistoryBuilder()
      .acquire('a', [0, 10], ok({ token: 1 }), 1_000)
      .check([20, 30], ok({ holder: 'a', token: 1 }))
      .refresh('a', [40, 50], ok({ token: 1 }))
      .acquire('b', [60, 70], conflict)
      .release('b', [80, 90], notOwner)
      .release('a', [100, 110], ok())
      .check([120, 130], notLocked)
      .refresh('a', [140, 150], notLocked)
      .release('a', [160, 170], notLocked)
      .acquire('b', [180, 190], ok({ token: 4 }))
      .build();
    const result = checkHistory(history);
    assertVerdict(result, []);
    assert.deepEqual(
      {
        operations: result.stats.operations,
        locks: result.stats.locks,
        unknown: result.stats.unknown,
      },
      { operations: 10, locks: 1, unknown: 0 },
    );
  });

  test('concurrent acquires: one is granted, the others conflict, whatever the overlap', () => {
    const history = new HistoryBuilder()
      .acquire('a', [0, 50], ok({ token: 2 }))
      .acquire('b', [10, 60], conflict)
      .acquire('c', [5, 30], conflict)
      .check([20, 40], ok({ holder: 'a', token: 2 }))
      .release('a', [70, 80], ok())
      .acquire('b', [75, 100], ok({ token: 5 }))
      .check([90, 95], ok({ holder: 'b' }))
      .build();
    assertVerdict(checkHistory(history), []);
  });

  test('a lost acquire that took effect (seen later) and one that never did', () => {
    const history = new HistoryBuilder()
      .acquire('a', [0, 10], lost)
      .check([20, 30], ok({ holder: 'a', token: 4 }))
      .release('a', [40, 50], ok())
      .acquire('b', [60, 70], lost)
      .check([80, 90], notLocked)
      .acquire('c', [100, 110], ok({ token: 9 }))
      .check([120, 130], ok({ holder: 'c', token: 9 }))
      .build();
    const result = checkHistory(history);
    assertVerdict(result, []);
    assert.equal(result.stats.unknown, 2);
  });

  test('a lost grant that lockd cleaned up: held, then free well within its ttl (its client gave up)', () => {
    const history = new HistoryBuilder()
      .acquire('a', [0, 10], lost, 10_000)
      .check([20, 30], ok({ holder: 'a', token: 4 }))
      .check([40, 50], notLocked)
      .acquire('b', [60, 70], ok({ token: 9 }))
      .build();
    assertVerdict(checkHistory(history), []);
  });

  test('a lost grant its owner renewed is no longer cleaned up: free within the renewed ttl is caught', () => {
    const history = new HistoryBuilder()
      .acquire('a', [0, 10], lost, 10_000)
      .refresh('a', [20, 30], ok({ token: 4 }), 10_000)
      .check([40, 50], notLocked)
      .build();
    assert.equal(checkHistory(history).ok, false);
  });

  test('a lost release that took effect only after its owner checked the lock', () => {
    const history = new HistoryBuilder()
      .acquire('a', [0, 10], ok({ token: 1 }))
      .release('a', [20, 30], lost)
      .check([40, 50], ok({ holder: 'a', token: 1 }))
      .check([60, 70], notLocked)
      .build();
    assertVerdict(checkHistory(history), []);
  });

  test('a lease that ended: another owner acquires after its deadline, and a check finds it free', () => {
    const history = new HistoryBuilder()
      .acquire('a', [0, 10], ok({ token: 1 }), 100)
      .acquire('b', [105, 115], ok({ token: 2 }))
      .check([120, 130], ok({ holder: 'b', token: 2 }))
      .refresh('a', [140, 150], notOwner)
      .release('b', [160, 170], ok())
      .acquire('c', [200, 205], ok({ token: 3 }), 50)
      .check([260, 270], notLocked)
      .build();
    assertVerdict(checkHistory(history), []);
  });

  // Decided: a refresh long after the lease's deadline may succeed, because a new leader gives every
  // live lease its full ttl again, so the runner cannot know the lease ended. Only an observation
  // that it had ended (the lock free or someone else's) makes such a refresh a violation.
  test('a lease outliving its deadline: a refresh after it succeeds when nobody took the lock', () => {
    const history = new HistoryBuilder()
      .acquire('a', [0, 10], ok({ token: 1 }), 100)
      .check([150, 160], ok({ holder: 'a', token: 1 }))
      .refresh('a', [300, 310], ok({ token: 1 }))
      .acquire('a', [320, 330], ok({ token: 1 }), 100)
      .release('a', [340, 350], ok())
      .build();
    assertVerdict(checkHistory(history), []);
  });

  test('a token learnt late: a lost grant is pinned by a check, and later grants exceed it', () => {
    const history = new HistoryBuilder()
      .acquire('a', [0, 10], ok({ token: 3 }))
      .release('a', [20, 30], ok())
      .acquire('b', [40, 50], lost)
      .check([60, 70], ok({ holder: 'b', token: 8 }))
      .release('b', [80, 90], ok())
      .acquire('c', [100, 110], ok({ token: 12 }))
      .build();
    assertVerdict(checkHistory(history), []);
  });

  test('a clock tolerance lets a lease end that much before its deadline', () => {
    const history = new HistoryBuilder()
      .acquire('a', [0, 10], ok({ token: 1 }), 100)
      .acquire('b', [80, 95], ok({ token: 2 }))
      .build();
    assertVerdict(checkHistory(history, { clockToleranceMs: 10 }), []);
    assertVerdict(checkHistory(history), ['lost-ack']);
  });

  test('locks are independent: each lock is checked on its own', () => {
    const first = new HistoryBuilder('first').acquire('a', [0, 10], ok({ token: 1 })).build();
    const second = new HistoryBuilder('second').acquire('b', [0, 10], ok({ token: 2 })).build();
    const history: History = {
      ...first,
      operations: [
        ...first.operations,
        ...second.operations.map((operation) => ({ ...operation, id: 1 })),
      ],
    };
    const result = checkHistory(history);
    assertVerdict(result, []);
    assert.equal(result.stats.locks, 2);
  });
});

describe('histories that are not linearizable are rejected with the exact kind', () => {
  // Two non-concurrent grants to different owners with no release between: the later grant found
  // the lock free while the first holder's grant (no lease) still stood, so the first grant's
  // acknowledgement was lost: 'lost-ack', not a bare 'linearizability'.
  test('two overlapping holders', () => {
    const history = new HistoryBuilder()
      .acquire('a', [0, 10], ok({ token: 1 }))
      .acquire('b', [20, 30], ok({ token: 3 }))
      .build();
    const result = checkHistory(history);
    assertVerdict(result, ['lost-ack']);
    assert.match(
      result.violations[0]?.message ?? '',
      /acquire #0 by a was acknowledged, then #1 found/,
    );
  });

  test('a token going backwards', () => {
    const history = new HistoryBuilder()
      .acquire('a', [0, 10], ok({ token: 5 }))
      .release('a', [20, 30], ok())
      .acquire('b', [40, 50], ok({ token: 3 }))
      .build();
    const result = checkHistory(history);
    assertVerdict(result, ['fencing']);
    assert.match(result.violations[0]?.message ?? '', /token went backwards/);
  });

  test('two owners with one token', () => {
    const history = new HistoryBuilder()
      .acquire('a', [0, 10], ok({ token: 5 }))
      .release('a', [20, 30], ok())
      .acquire('b', [40, 50], ok({ token: 5 }))
      .build();
    const result = checkHistory(history);
    assertVerdict(result, ['fencing']);
    assert.match(result.violations[0]?.message ?? '', /two owners hold token 5/);
  });

  test('one token granted on two locks', () => {
    const onX = new HistoryBuilder('x').acquire('a', [0, 10], ok({ token: 5 })).build();
    const onY = new HistoryBuilder('y').acquire('b', [20, 30], ok({ token: 5 })).build();
    const history = {
      ...onX,
      operations: [
        ...onX.operations,
        ...onY.operations.map((operation) => ({ ...operation, id: operation.id + 1 })),
      ],
    };
    const result = checkHistory(history);
    assertVerdict(result, ['fencing']);
    assert.equal(result.violations[0]?.lock, 'x and y');
    assert.match(result.violations[0]?.message ?? '', /token 5 was granted on two locks: x by #0/);
    const distinct = {
      ...history,
      operations: history.operations.map((operation) =>
        operation.lock === 'y' && operation.outcome.type === 'ok'
          ? { ...operation, outcome: { ...operation.outcome, token: 6 } }
          : operation,
      ),
    };
    assertVerdict(checkHistory(distinct), []);
  });

  test('a lost acknowledged release: the owner is seen holding again with no acquire between', () => {
    const history = new HistoryBuilder()
      .acquire('a', [0, 10], ok({ token: 1 }))
      .release('a', [20, 30], ok())
      .check([40, 50], ok({ holder: 'a', token: 1 }))
      .build();
    const result = checkHistory(history);
    assertVerdict(result, ['lost-ack']);
    assert.match(result.violations[0]?.message ?? '', /a lost release/);
  });

  test('a lost grant: another owner acquires before the deadline with no release', () => {
    const history = new HistoryBuilder()
      .acquire('a', [0, 10], ok({ token: 1 }), 1_000)
      .acquire('b', [100, 110], ok({ token: 2 }))
      .build();
    const result = checkHistory(history);
    assertVerdict(result, ['lost-ack']);
    assert.match(result.violations[0]?.message ?? '', /earliest 1000 ms.*a lost grant/);
  });

  test('a lost refresh: the lock found free before the refreshed lease could end', () => {
    const history = new HistoryBuilder()
      .acquire('a', [0, 10], ok({ token: 1 }), 100)
      .refresh('a', [50, 60], ok({ token: 1 }), 100)
      .check([120, 130], notLocked)
      .build();
    const result = checkHistory(history);
    assertVerdict(result, ['lost-ack']);
    assert.match(result.violations[0]?.message ?? '', /a lost refresh/);
  });

  test('an expired grant: a refresh succeeds after another owner held the lock', () => {
    const history = new HistoryBuilder()
      .acquire('a', [0, 10], ok({ token: 1 }), 100)
      .acquire('b', [200, 210], ok({ token: 2 }), 100)
      .refresh('a', [400, 410], ok({ token: 1 }))
      .build();
    const result = checkHistory(history);
    assertVerdict(result, ['expired-grant']);
    assert.match(result.violations[0]?.message ?? '', /etcd#11456/);
  });

  test('an expired grant: a refresh succeeds after the owner itself was told the lock was free', () => {
    const history = new HistoryBuilder()
      .acquire('a', [0, 10], ok({ token: 1 }), 100)
      .refresh('a', [150, 160], notLocked)
      .refresh('a', [170, 180], ok({ token: 1 }))
      .build();
    assertVerdict(checkHistory(history), ['expired-grant']);
  });

  test('an acquire granted while checks within its call showed the lock held by another', () => {
    const history = new HistoryBuilder()
      .acquire('b', [0, 10], ok({ token: 7 }))
      .acquire('a', [5, 100], ok({ token: 9 }))
      .check([20, 30], ok({ holder: 'b', token: 7 }))
      .check([60, 70], ok({ holder: 'b', token: 7 }))
      .build();
    const result = checkHistory(history);
    assertVerdict(result, ['linearizability']);
    assert.match(result.violations[0]?.message ?? '', /held by b \(token 7, no lease\)/);
  });

  test('a holding seen again after a check found the lock free (a lost release cannot explain it)', () => {
    const history = new HistoryBuilder()
      .acquire('a', [0, 10], ok({ token: 1 }))
      .release('a', [12, 15], lost)
      .check([20, 30], notLocked)
      .check([40, 50], ok({ holder: 'a', token: 1 }))
      .build();
    const result = checkHistory(history);
    assertVerdict(result, ['linearizability']);
    assert.equal(
      result.violations[0]?.message,
      'the holding of a with token 1 was seen at #0 and again at #3, but #2 (check) between them ' +
        'found the lock free: a holding cannot end and come back',
    );
  });

  test('a check that sees a token older than one already granted', () => {
    const history = new HistoryBuilder()
      .acquire('a', [0, 10], ok({ token: 5 }))
      .release('a', [20, 30], ok())
      .acquire('b', [40, 50], lost)
      .check([60, 70], ok({ holder: 'b', token: 4 }))
      .build();
    const result = checkHistory(history);
    assertVerdict(result, ['linearizability']);
    assert.equal(
      result.violations[0]?.message,
      'the longest linearizable prefix has 1 of 4 operations (ending #0); then the lock is held by ' +
        'a (token 5, no lease), but #3 (check) shows token 4, which no holding can have any more',
    );
  });

  test('a check that sees the holder with a token it was never granted', () => {
    const history = new HistoryBuilder()
      .acquire('a', [0, 10], ok({ token: 3 }))
      .check([20, 30], ok({ holder: 'a', token: 4 }))
      .build();
    assertVerdict(checkHistory(history), ['linearizability']);
  });
});

describe('a violation reads well', () => {
  test('the excerpt lists the window one operation a line, marks the involved ones, and shows the nemesis', () => {
    const history = new HistoryBuilder()
      .acquire('a', [0, 10], ok({ token: 1 }), 1_000)
      .check([40, 50], ok({ holder: 'a', token: 1 }))
      .acquire('b', [100, 110], ok({ token: 2 }))
      .acquire('c', [300, 310], conflict)
      .fault(30, 'partition', 'isolate node 1 from 2, 3')
      .fault(500, 'heal', 'all links up')
      .build();
    const [violation] = checkHistory(history).violations;
    assert.ok(violation !== undefined);
    assert.equal(
      violation.excerpt,
      [
        '> #0 client 1 node 1 acquire owner=a ttl=1000ms 0→10 ms ok token=1',
        '  ~ 30 ms nemesis partition: isolate node 1 from 2, 3',
        '  #1 client 0 node 1 check 40→50 ms ok holder=a token=1',
        '> #2 client 2 node 1 acquire owner=b 100→110 ms ok token=2',
      ].join('\n'),
    );
    assert.match(formatViolation(violation), /^lost-ack violation on lock foo: acquire #0 by a/);
  });

  test('a failed search names the longest linearizable prefix and the operation it could not place', () => {
    const history = new HistoryBuilder()
      .acquire('a', [0, 10], ok({ token: 3 }))
      .check([20, 30], ok({ holder: 'a', token: 4 }))
      .build();
    const [violation] = checkHistory(history).violations;
    assert.equal(
      violation?.message,
      'the longest linearizable prefix has 1 of 2 operations (ending #0); then the lock is held by a ' +
        '(token 3, no lease) and none of #1 fits it; #1 (check, returned at 30 ms) cannot be placed',
    );
    assert.equal(
      violation?.excerpt,
      [
        '> #0 client 1 node 1 acquire owner=a 0→10 ms ok token=3',
        '> #1 client 0 node 1 check 20→30 ms ok holder=a token=4',
      ].join('\n'),
    );
  });
});

const stepArbitrary: fc.Arbitrary<ClientStep> = fc.record({
  kind: fc.constantFrom<OperationKind>('acquire', 'acquire', 'refresh', 'release', 'check'),
  lockIndex: fc.integer({ min: 0, max: 1 }),
  ownerIndex: fc.integer({ min: 0, max: 1 }),
  ttlMs: fc.option(fc.integer({ min: 20, max: 200 }), { nil: undefined }),
  gapMs: fc.integer({ min: 0, max: 30 }),
  durationMs: fc.integer({ min: 1, max: 60 }),
  pointFraction: fc.double({ min: 0, max: 1, noNaN: true }),
  lostAnswer: fc.integer({ min: 0, max: 5 }).map((draw) => draw === 0),
  tookEffect: fc.boolean(),
  extendLease: fc.boolean(),
});

const clientsArbitrary = fc.array(fc.array(stepArbitrary, { maxLength: 14 }), {
  minLength: 1,
  maxLength: 5,
});

function withOutcome(history: History, target: Operation, outcome: Outcome): History {
  const operations = history.operations.map((operation) =>
    operation.id === target.id ? { ...operation, outcome } : operation,
  );
  return { ...history, operations };
}

describe(`random histories (fast-check seed ${seed}; LOCKD_TEST_SEED replays)`, () => {
  test('a history made by running the model with random concurrency always passes', () => {
    fc.assert(
      fc.property(clientsArbitrary, (clients) => {
        const result = checkHistory(simulateHistory(clients));
        assert.deepEqual(result.violations.map(formatViolation), []);
        assert.ok(result.ok);
      }),
      { seed, numRuns: 150 },
    );
  });

  test('a check that saw a token no grant ever has (0) always fails the search', () => {
    fc.assert(
      fc.property(clientsArbitrary, (clients) => {
        const history = simulateHistory(clients);
        const target = history.operations.find(
          (operation) => operation.kind === 'check' && operation.outcome.type === 'ok',
        );
        fc.pre(target !== undefined && target.outcome.type === 'ok');
        const mutated = withOutcome(history, target, { ...target.outcome, token: 0 });
        assertVerdict(checkHistory(mutated), ['linearizability']);
      }),
      { seed, numRuns: 60 },
    );
  });

  test('a conflict flipped into a grant is usually caught', () => {
    let caught = 0;
    let mutated = 0;
    fc.assert(
      fc.property(clientsArbitrary, (clients) => {
        const history = simulateHistory(clients);
        const target = history.operations.find(
          (operation) => operation.kind === 'acquire' && operation.outcome.type === 'fail',
        );
        fc.pre(target !== undefined);
        mutated++;
        if (!checkHistory(withOutcome(history, target, ok())).ok) caught++;
      }),
      { seed, numRuns: 80 },
    );
    // Not always: the flipped acquire may have had a moment when the lock was free, or a lease
    // that could have ended. Most flips must still be caught.
    assert.ok(caught >= mutated * 0.5, `caught ${caught} of ${mutated}`);
  });
});

/**
 * The plain Wing–Gong search over the same model, with none of the search's shortcuts (greedy
 * read-only steps, just-in-time lost operations, classes, chain dropping): the reference they must
 * agree with. Exponential, so only for tiny histories.
 */
function naiveLinearizable(operations: readonly Operation[], clockToleranceMs: number): boolean {
  const entries = operations.filter(
    (operation) => operation.kind !== 'check' || operation.outcome.type !== 'unknown',
  );
  const taken = entries.map(() => false);
  const definiteTotal = entries.filter((operation) => operation.outcome.type !== 'unknown').length;
  const failed = new Set<string>();
  const search = (state: LockModelState, definiteTaken: number): boolean => {
    if (definiteTaken === definiteTotal) return true;
    const key = `${taken.map((done) => (done ? 1 : 0)).join('')}|${stateKey(state)}`;
    if (failed.has(key)) return false;
    let horizonMs = Number.POSITIVE_INFINITY;
    entries.forEach((operation, index) => {
      if (!taken[index] && operation.outcome.type !== 'unknown') {
        horizonMs = Math.min(horizonMs, operation.returnMs);
      }
    });
    const expired = expireBefore(state, horizonMs, clockToleranceMs);
    for (const [index, operation] of entries.entries()) {
      if (taken[index] || operation.callMs > horizonMs) continue;
      const isLost = operation.outcome.type === 'unknown';
      for (const from of expired === undefined ? [state] : [state, expired]) {
        const after = isLost ? applyUnknownEffect(from, operation) : applyDefinite(from, operation);
        if (after === undefined) continue;
        taken[index] = true;
        const found = search(after, definiteTaken + (isLost ? 0 : 1));
        taken[index] = false;
        if (found) return true;
      }
    }
    failed.add(key);
    return false;
  };
  return search(initialLockState, 0);
}

/** One operation's answer changed: a grant to a failure or a lost answer, a failure to a grant. */
function mutateOne(history: History, pick: number): History {
  const target = history.operations[pick % history.operations.length];
  if (target === undefined) return history;
  const outcome: Outcome =
    target.outcome.type === 'fail'
      ? ok(pick % 3 === 0 ? { token: 1 + (pick % 7) } : {})
      : target.outcome.type === 'ok'
        ? pick % 2 === 0
          ? notLocked
          : lost
        : conflict;
  return withOutcome(history, target, outcome);
}

describe(`the search agrees with the plain exhaustive search (fast-check seed ${seed})`, () => {
  test('on tiny histories with many lost answers, valid or mutated, with and without tolerance', () => {
    const tinyClients = fc.array(
      fc.array(
        stepArbitrary.map((step) => ({
          ...step,
          lockIndex: 0,
          lostAnswer: step.lostAnswer || step.tookEffect,
        })),
        { maxLength: 4 },
      ),
      { minLength: 1, maxLength: 3 },
    );
    fc.assert(
      fc.property(
        tinyClients,
        fc.nat(),
        fc.constantFrom(0, 25),
        (clients, pick, clockToleranceMs) => {
          const valid = simulateHistory(clients);
          for (const history of [
            valid,
            mutateOne(valid, pick),
            mutateOne(mutateOne(valid, pick), pick + 1),
          ]) {
            const expected = naiveLinearizable(history.operations, clockToleranceMs);
            const options = { clockToleranceMs, maxSearchStates: 1_000_000 };
            const searched = searchLinearization(history.operations, options);
            assert.equal(searched.kind, expected ? 'linearizable' : 'not-linearizable');
            assert.equal(checkHistory(history, options).ok, expected);
          }
        },
      ),
      { seed, numRuns: 250 },
    );
  });
});

describe('the search is bounded and fast', () => {
  test('a pathological history is inconclusive quickly, not a hang', () => {
    // Sixteen owners each take and release the lock, all at once; then a check sees an owner
    // nobody ever granted. Proving that impossible means trying every order of the sixteen.
    const builder = new HistoryBuilder();
    for (let owner = 0; owner < 16; owner++) {
      builder.acquire(`o${owner}`, [0, 100], ok()).release(`o${owner}`, [1, 101], ok());
    }
    const history = builder.check([200, 210], ok({ holder: 'ghost' })).build();
    const startedMs = performance.now();
    const result = checkHistory(history, { maxSearchStates: 20_000 });
    const elapsedMs = performance.now() - startedMs;
    assert.equal(result.ok, false);
    assert.deepEqual(result.violations, []);
    assert.equal(result.inconclusive.length, 1);
    assert.match(result.inconclusive[0]?.message ?? '', /gave up after 20001 states/);
    assert.ok(elapsedMs < 1_000, `took ${elapsedMs} ms`);
  });

  test('5,000 operations over 5 locks with 5% lost checks and some lost writes check in well under a second', () => {
    const history = simulateHistory(
      randomWorkload({
        seed: 1,
        operations: 5_000,
        clients: 10,
        locks: 5,
        lostCheckFraction: 0.25,
        lostWriteFraction: 0.05,
      }),
    );
    const startedMs = performance.now();
    const result = checkHistory(history);
    const elapsedMs = performance.now() - startedMs;
    assertVerdict(result, []);
    assert.equal(result.stats.operations, 5_000);
    assert.ok(result.stats.unknown >= 250, `${result.stats.unknown} lost answers`);
    assert.ok(elapsedMs < 1_000, `took ${elapsedMs} ms`);
  });
});
