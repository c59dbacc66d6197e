// The lock state machine, rule by rule, with exact results, holds and events. Time is only the
// commands' `nowMs` stamps (a fake leader clock), so every case is deterministic.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodeCommand } from '../../src/locks/codec.js';
import type {
  Applied,
  Hold,
  LockCommand,
  LockEventRecord,
  LockEventType,
} from '../../src/locks/commands.js';
import { LockStateMachine } from '../../src/locks/state-machine.js';
import { AssertionError } from '../../src/util/assert.js';
import {
  acquire,
  expire,
  extendLeases,
  forceRelease,
  handOff,
  refresh,
  release,
} from './builders.js';

/** A machine fed entries at indexes 1, 2, 3... with invariants checked after each. */
class Log {
  readonly machine = new LockStateMachine();

  apply(command: LockCommand): Applied {
    const applied = this.machine.apply(this.machine.appliedIndex + 1, command);
    this.machine.assertInvariants();
    return applied;
  }

  /** Applies and returns only the result. */
  result(command: LockCommand): Applied['result'] {
    return this.apply(command).result;
  }

  noop(): void {
    this.machine.applyNoop(this.machine.appliedIndex + 1);
  }
}

function hold(
  owner: string | null,
  token: number,
  acquiredAtMs: number,
  ttlMs: number | null = null,
  renewed = false,
): Hold {
  return {
    owner,
    token,
    acquiredAtMs,
    ttlMs,
    expiresAtMs: ttlMs === null ? null : acquiredAtMs + ttlMs,
    renewed,
  };
}

function event(
  type: LockEventType,
  name: string,
  owner: string | null,
  token: number,
  index: number,
  n: number,
  atMs: number,
): LockEventRecord {
  return { type, name, owner, token, index, n, atMs };
}

describe('acquire', () => {
  test('of a free name grants it: token = entry index, one grant event', () => {
    const log = new Log();
    assert.deepEqual(log.apply(acquire('foo', 1_000, { owner: 'a', ttlMs: 500 })), {
      result: {
        outcome: 'acquired',
        hold: hold('a', 1, 1_000, 500),
        mode: 'exclusive',
        renewed: false,
      },
      events: [event('grant', 'foo', 'a', 1, 1, 0, 1_000)],
    });
    assert.deepEqual(log.machine.get('foo'), {
      mode: 'exclusive',
      limit: null,
      holders: [hold('a', 1, 1_000, 500)],
    });
    assert.equal(log.machine.size, 1);
    assert.equal(log.machine.timeMs, 1_000);
  });

  test('anonymous, of a held lock, conflicts (the seed), listing the anonymous holder too', () => {
    const log = new Log();
    log.apply(acquire('foo', 1_000));
    assert.deepEqual(log.apply(acquire('foo', 1_001)), {
      result: { outcome: 'conflict', holders: [hold(null, 1, 1_000)] },
      events: [],
    });
  });

  test('by another owner conflicts and changes nothing', () => {
    const log = new Log();
    log.apply(acquire('foo', 1_000, { owner: 'a', ttlMs: 500 }));
    assert.deepEqual(log.result(acquire('foo', 1_100, { owner: 'b', ttlMs: 500 })), {
      outcome: 'conflict',
      holders: [hold('a', 1, 1_000, 500)],
    });
    assert.deepEqual(log.machine.get('foo')?.holders, [hold('a', 1, 1_000, 500)]);
  });

  test('by the same owner again: same token, lease refreshed from now, a refresh event', () => {
    const log = new Log();
    log.apply(acquire('foo', 1_000, { owner: 'a', ttlMs: 500 }));
    const renewed: Hold = { ...hold('a', 1, 1_000, 800, true), expiresAtMs: 1_200 + 800 };
    assert.deepEqual(log.apply(acquire('foo', 1_200, { owner: 'a', ttlMs: 800 })), {
      result: { outcome: 'acquired', hold: renewed, mode: 'exclusive', renewed: true },
      events: [event('refresh', 'foo', 'a', 1, 2, 0, 1_200)],
    });
    assert.deepEqual([...log.machine.deadlines()], [{ expiresAtMs: 2_000, token: 1, name: 'foo' }]);
  });

  test('by the same owner in the other mode conflicts (no upgrade, no downgrade)', () => {
    const log = new Log();
    log.apply(acquire('foo', 1_000, { owner: 'a' }));
    assert.deepEqual(log.result(acquire('foo', 1_000, { owner: 'a', mode: 'shared' })), {
      outcome: 'conflict',
      holders: [hold('a', 1, 1_000)],
    });
  });

  test('of a lease that ran out, before its expire entry applied, grants anew (etcd#11456)', () => {
    const log = new Log();
    log.apply(acquire('foo', 1_000, { owner: 'a', ttlMs: 500 }));
    // At 1 500 the lease is over (expiresAt <= now): the stale holder is gone, not a conflict.
    assert.deepEqual(log.apply(acquire('foo', 1_500, { owner: 'b', ttlMs: 500 })), {
      result: {
        outcome: 'acquired',
        hold: hold('b', 2, 1_500, 500),
        mode: 'exclusive',
        renewed: false,
      },
      events: [
        event('expire', 'foo', 'a', 1, 2, 0, 1_500),
        event('grant', 'foo', 'b', 2, 2, 1, 1_500),
      ],
    });
    // The leader's expire for the old hold, applied late, is a no-op.
    assert.deepEqual(log.apply(expire('foo', 1_501, 1)), {
      result: { outcome: 'not-expired' },
      events: [],
    });
    assert.deepEqual(log.machine.get('foo')?.holders, [hold('b', 2, 1_500, 500)]);
  });

  test('of its own lease that ran out is a new grant with a new token, not a renewal', () => {
    const log = new Log();
    log.apply(acquire('foo', 1_000, { owner: 'a', ttlMs: 500 }));
    assert.deepEqual(log.result(acquire('foo', 2_000, { owner: 'a', ttlMs: 500 })), {
      outcome: 'acquired',
      hold: hold('a', 2, 2_000, 500),
      mode: 'exclusive',
      renewed: false,
    });
  });

  test('one millisecond before the deadline the lease still holds', () => {
    const log = new Log();
    log.apply(acquire('foo', 1_000, { owner: 'a', ttlMs: 500 }));
    assert.equal(log.result(acquire('foo', 1_499, { owner: 'b' })).outcome, 'conflict');
    assert.equal(log.result(acquire('foo', 1_500, { owner: 'b' })).outcome, 'acquired');
  });

  test('names are independent and exact: no case folding or trimming', () => {
    const log = new Log();
    log.apply(acquire('foo', 1));
    assert.equal(log.result(acquire('Foo', 1)).outcome, 'acquired');
    assert.equal(log.result(acquire('foo.', 1)).outcome, 'acquired');
    assert.deepEqual(log.result(release('bar', 1)), { outcome: 'not-locked' });
    assert.equal(log.machine.size, 3);
  });
});

describe('time comes only from the stamps, and never goes back', () => {
  test('a command stamped earlier than the state time is applied at the state time', () => {
    const log = new Log();
    log.apply(acquire('a', 5_000));
    // A new leader whose clock is 2 s behind: its grant is dated 5 000, not 3 000.
    assert.deepEqual(log.result(acquire('b', 3_000, { owner: 'x', ttlMs: 100 })), {
      outcome: 'acquired',
      hold: hold('x', 2, 5_000, 100),
      mode: 'exclusive',
      renewed: false,
    });
    assert.equal(log.machine.timeMs, 5_000);
  });

  test('a slow clock cannot revive an expired lease', () => {
    const log = new Log();
    log.apply(acquire('foo', 1_000, { owner: 'a', ttlMs: 500 }));
    log.apply(acquire('other', 2_000));
    assert.deepEqual(log.result(refresh('foo', 1_200, 'a')), { outcome: 'not-locked' });
    assert.equal(log.result(acquire('foo', 1_200, { owner: 'b' })).outcome, 'acquired');
  });
});

describe('release', () => {
  test('anonymous release of an anonymous hold releases it (the seed)', () => {
    const log = new Log();
    log.apply(acquire('foo', 1));
    assert.deepEqual(log.apply(release('foo', 2)), {
      result: { outcome: 'released', token: 1, handOff: null },
      events: [event('release', 'foo', null, 1, 2, 0, 2)],
    });
    assert.equal(log.machine.get('foo'), undefined);
    assert.equal(log.machine.size, 0);
  });

  test('anonymous release of a named hold is not-owner: a named lock needs its owner', () => {
    const log = new Log();
    log.apply(acquire('foo', 1, { owner: 'a' }));
    assert.deepEqual(log.apply(release('foo', 2)), {
      result: { outcome: 'not-owner', holders: [hold('a', 1, 1)] },
      events: [],
    });
  });

  test('release by the owner releases only its own hold', () => {
    const log = new Log();
    log.apply(acquire('foo', 1, { owner: 'a' }));
    assert.deepEqual(log.result(release('foo', 2, { owner: 'b' })), {
      outcome: 'not-owner',
      holders: [hold('a', 1, 1)],
    });
    assert.deepEqual(log.result(release('foo', 3, { owner: 'a' })), {
      outcome: 'released',
      token: 1,
      handOff: null,
    });
  });

  test('release by an owner of an anonymous hold is not-owner', () => {
    const log = new Log();
    log.apply(acquire('foo', 1));
    assert.deepEqual(log.result(release('foo', 2, { owner: 'a' })), {
      outcome: 'not-owner',
      holders: [hold(null, 1, 1)],
    });
  });

  test('release of a free name is not-locked, whether never held or already released', () => {
    const log = new Log();
    assert.deepEqual(log.result(release('foo', 1)), { outcome: 'not-locked' });
    log.apply(acquire('foo', 1));
    log.apply(release('foo', 1));
    assert.deepEqual(log.result(release('foo', 1)), { outcome: 'not-locked' });
  });

  test('release with a token releases only the hold with that token', () => {
    const log = new Log();
    log.apply(acquire('foo', 1, { owner: 'a' }));
    assert.deepEqual(log.result(release('foo', 2, { owner: 'a', token: 7 })), {
      outcome: 'not-owner',
      holders: [hold('a', 1, 1)],
    });
    assert.deepEqual(log.result(release('foo', 2, { owner: 'a', token: 1 })), {
      outcome: 'released',
      token: 1,
      handOff: null,
    });
  });

  test('a name released and acquired again gets the new, higher token', () => {
    const log = new Log();
    log.apply(acquire('foo', 1));
    log.apply(release('foo', 1));
    assert.equal(log.result(acquire('foo', 1)).outcome, 'acquired');
    assert.deepEqual(log.machine.get('foo')?.holders, [hold(null, 3, 1)]);
  });
});

describe('release against expiry (the race between a client and the leader)', () => {
  test('release before the deadline wins; the expire entry that follows is a no-op', () => {
    const log = new Log();
    log.apply(acquire('foo', 1_000, { owner: 'a', ttlMs: 500 }));
    assert.equal(log.result(release('foo', 1_499, { owner: 'a' })).outcome, 'released');
    assert.deepEqual(log.apply(expire('foo', 1_500, 1)), {
      result: { outcome: 'not-expired' },
      events: [],
    });
  });

  test('release after the deadline but before the expire entry: not-locked, and an expire event', () => {
    const log = new Log();
    log.apply(acquire('foo', 1_000, { owner: 'a', ttlMs: 500 }));
    assert.deepEqual(log.apply(release('foo', 1_500, { owner: 'a' })), {
      result: { outcome: 'not-locked' },
      events: [event('expire', 'foo', 'a', 1, 2, 0, 1_500)],
    });
    assert.deepEqual(log.result(expire('foo', 1_501, 1)), { outcome: 'not-expired' });
    assert.equal(log.machine.size, 0);
  });

  test('expire applied first: the release that follows is not-locked', () => {
    const log = new Log();
    log.apply(acquire('foo', 1_000, { owner: 'a', ttlMs: 500 }));
    assert.deepEqual(log.apply(expire('foo', 1_500, 1)), {
      result: { outcome: 'expired', handOff: null },
      events: [event('expire', 'foo', 'a', 1, 2, 0, 1_500)],
    });
    assert.deepEqual(log.apply(release('foo', 1_500, { owner: 'a' })), {
      result: { outcome: 'not-locked' },
      events: [],
    });
  });

  test('release after the deadline while another owner holds: not-owner, the stale hold expired', () => {
    const log = new Log();
    log.apply(acquire('s', 1_000, { owner: 'a', ttlMs: 500, mode: 'shared' }));
    log.apply(acquire('s', 1_000, { owner: 'b', mode: 'shared' }));
    assert.deepEqual(log.apply(release('s', 1_600, { owner: 'a' })), {
      result: { outcome: 'not-owner', holders: [hold('b', 2, 1_000)] },
      events: [event('expire', 's', 'a', 1, 3, 0, 1_600)],
    });
  });
});

describe('refresh', () => {
  test('extends the lease from now, keeping the TTL unless a new one is given', () => {
    const log = new Log();
    log.apply(acquire('foo', 1_000, { owner: 'a', ttlMs: 500 }));
    const kept: Hold = { ...hold('a', 1, 1_000, 500, true), expiresAtMs: 1_900 };
    assert.deepEqual(log.apply(refresh('foo', 1_400, 'a')), {
      result: { outcome: 'refreshed', hold: kept, mode: 'exclusive' },
      events: [event('refresh', 'foo', 'a', 1, 2, 0, 1_400)],
    });
    const changed: Hold = { ...hold('a', 1, 1_000, 2_000, true), expiresAtMs: 3_800 };
    assert.deepEqual(log.result(refresh('foo', 1_800, 'a', 2_000)), {
      outcome: 'refreshed',
      hold: changed,
      mode: 'exclusive',
    });
    assert.deepEqual([...log.machine.deadlines()], [{ expiresAtMs: 3_800, token: 1, name: 'foo' }]);
  });

  test('after the deadline, even before the expire entry, is not-locked (no revival)', () => {
    const log = new Log();
    log.apply(acquire('foo', 1_000, { owner: 'a', ttlMs: 500 }));
    assert.deepEqual(log.apply(refresh('foo', 1_500, 'a')), {
      result: { outcome: 'not-locked' },
      events: [],
    });
    // Refresh carries no hand-off, so it leaves the stale hold for the expire entry.
    assert.deepEqual(log.result(expire('foo', 1_500, 1)), { outcome: 'expired', handOff: null });
  });

  test('by another owner is not-owner; of a free name is not-locked', () => {
    const log = new Log();
    log.apply(acquire('foo', 1_000, { owner: 'a', ttlMs: 500 }));
    assert.deepEqual(log.result(refresh('foo', 1_100, 'b')), {
      outcome: 'not-owner',
      holders: [hold('a', 1, 1_000, 500)],
    });
    assert.deepEqual(log.result(refresh('bar', 1_100, 'a')), { outcome: 'not-locked' });
  });

  test('with a TTL on a hold without a lease gives it one; without, leaves it unleased', () => {
    const log = new Log();
    log.apply(acquire('foo', 1_000, { owner: 'a' }));
    assert.deepEqual(log.result(refresh('foo', 1_100, 'a')), {
      outcome: 'refreshed',
      hold: hold('a', 1, 1_000, null, true),
      mode: 'exclusive',
    });
    assert.equal(log.machine.leaseCount, 0);
    assert.deepEqual(log.result(refresh('foo', 1_100, 'a', 50)), {
      outcome: 'refreshed',
      hold: { ...hold('a', 1, 1_000, 50, true), expiresAtMs: 1_150 },
      mode: 'exclusive',
    });
    assert.equal(log.machine.leaseCount, 1);
  });
});

describe('expire', () => {
  test('before the deadline is a no-op (the lease was refreshed meanwhile)', () => {
    const log = new Log();
    log.apply(acquire('foo', 1_000, { owner: 'a', ttlMs: 500 }));
    log.apply(refresh('foo', 1_400, 'a'));
    assert.deepEqual(log.apply(expire('foo', 1_500, 1)), {
      result: { outcome: 'not-expired' },
      events: [],
    });
    assert.equal(log.machine.size, 1);
  });

  test('of a token the lock does not have, or of a hold without a lease, is a no-op', () => {
    const log = new Log();
    log.apply(acquire('foo', 1_000, { owner: 'a' }));
    assert.deepEqual(log.result(expire('foo', 9_000, 1)), { outcome: 'not-expired' });
    assert.deepEqual(log.result(expire('foo', 9_000, 5)), { outcome: 'not-expired' });
    assert.deepEqual(log.result(expire('bar', 9_000, 1)), { outcome: 'not-expired' });
    assert.equal(log.machine.size, 1);
  });

  test('removes only that hold of a shared lock', () => {
    const log = new Log();
    log.apply(acquire('s', 1_000, { owner: 'a', mode: 'shared', ttlMs: 100 }));
    log.apply(acquire('s', 1_000, { owner: 'b', mode: 'shared', ttlMs: 200 }));
    assert.deepEqual(log.result(expire('s', 1_100, 1)), { outcome: 'expired', handOff: null });
    assert.deepEqual(log.machine.get('s')?.holders, [hold('b', 2, 1_000, 200)]);
  });
});

describe('shared locks', () => {
  test("take holders up to the first acquirer's limit, then conflict", () => {
    const log = new Log();
    const shared = { mode: 'shared', limit: 2 } as const;
    assert.equal(log.result(acquire('s', 1, { owner: 'a', ...shared })).outcome, 'acquired');
    // A later acquirer's limit does not change the lock's.
    assert.equal(
      log.result(acquire('s', 1, { owner: 'b', mode: 'shared', limit: 5 })).outcome,
      'acquired',
    );
    assert.deepEqual(log.result(acquire('s', 1, { owner: 'c', mode: 'shared', limit: 5 })), {
      outcome: 'conflict',
      holders: [hold('a', 1, 1), hold('b', 2, 1)],
    });
    assert.deepEqual(log.machine.get('s'), {
      mode: 'shared',
      limit: 2,
      holders: [hold('a', 1, 1), hold('b', 2, 1)],
    });
  });

  test('without a limit, or past maxHoldersPerLock, refuse with limit-reached', () => {
    const log = new Log();
    const capped = { mode: 'shared', maxHoldersPerLock: 2 } as const;
    log.apply(acquire('s', 1, { owner: 'a', ...capped }));
    log.apply(acquire('s', 1, { owner: 'b', ...capped }));
    assert.deepEqual(log.result(acquire('s', 1, { owner: 'c', ...capped })), {
      outcome: 'limit-reached',
      limit: 'maxHoldersPerLock',
    });
    const limited = new Log();
    limited.apply(acquire('t', 1, { owner: 'a', mode: 'shared', limit: 10, maxHoldersPerLock: 1 }));
    assert.deepEqual(
      limited.result(acquire('t', 1, { owner: 'b', ...capped, maxHoldersPerLock: 1 })),
      {
        outcome: 'limit-reached',
        limit: 'maxHoldersPerLock',
      },
    );
  });

  test('exclusive on shared and shared on exclusive conflict', () => {
    const log = new Log();
    log.apply(acquire('s', 1, { owner: 'a', mode: 'shared' }));
    log.apply(acquire('x', 1, { owner: 'a' }));
    assert.equal(log.result(acquire('s', 1, { owner: 'b' })).outcome, 'conflict');
    assert.equal(log.result(acquire('s', 1)).outcome, 'conflict');
    assert.equal(log.result(acquire('x', 1, { owner: 'b', mode: 'shared' })).outcome, 'conflict');
  });

  test('a shared hold without owner is an assertion failure (the api refuses it with 400)', () => {
    const log = new Log();
    const anonymousShared: LockCommand = { ...acquire('s', 1), mode: 'shared' };
    assert.throws(() => log.machine.apply(1, anonymousShared), AssertionError);
    assert.throws(() => encodeCommand(anonymousShared), AssertionError);
  });

  test('when the last holder goes, the lock goes, and its mode and limit with it', () => {
    const log = new Log();
    log.apply(acquire('s', 1, { owner: 'a', mode: 'shared', limit: 1 }));
    log.apply(release('s', 1, { owner: 'a' }));
    assert.equal(log.result(acquire('s', 1, { owner: 'b' })).outcome, 'acquired');
    assert.deepEqual(log.machine.get('s')?.mode, 'exclusive');
  });
});

describe('force-release', () => {
  test('removes every holder, one force-release event each; the token is the newest', () => {
    const log = new Log();
    log.apply(acquire('s', 1, { owner: 'a', mode: 'shared' }));
    log.apply(acquire('s', 1, { owner: 'b', mode: 'shared' }));
    assert.deepEqual(log.apply(forceRelease('s', 5)), {
      result: { outcome: 'released', token: 2, handOff: null },
      events: [
        event('force-release', 's', 'a', 1, 3, 0, 5),
        event('force-release', 's', 'b', 2, 3, 1, 5),
      ],
    });
    assert.equal(log.machine.get('s'), undefined);
  });

  test('of a free name, or of one whose only holder expired, is not-locked', () => {
    const log = new Log();
    assert.deepEqual(log.result(forceRelease('s', 5)), { outcome: 'not-locked' });
    log.apply(acquire('s', 10, { owner: 'a', ttlMs: 5 }));
    assert.deepEqual(log.apply(forceRelease('s', 15)), {
      result: { outcome: 'not-locked' },
      events: [event('expire', 's', 'a', 2, 3, 0, 15)],
    });
  });
});

describe('limits', () => {
  test('maxLocks refuses a new lock, not a renewal nor a lock whose holder expired', () => {
    const log = new Log();
    log.apply(acquire('a', 1_000, { owner: 'o', maxLocks: 2, ttlMs: 10 }));
    log.apply(acquire('b', 1_000, { owner: 'o', maxLocks: 2 }));
    assert.deepEqual(log.result(acquire('c', 1_000, { owner: 'o', maxLocks: 2 })), {
      outcome: 'limit-reached',
      limit: 'maxLocks',
    });
    assert.equal(log.result(acquire('b', 1_000, { owner: 'o', maxLocks: 2 })).outcome, 'acquired');
    // 'a' expired at 1 010: taking it over keeps the count at 2.
    assert.equal(log.result(acquire('a', 1_010, { owner: 'p', maxLocks: 2 })).outcome, 'acquired');
    assert.equal(log.machine.size, 2);
  });
});

describe('hand-off: a command that frees room grants the head waiter in the same entry', () => {
  test('release hands the lock to the waiter: token = the release entry, release then grant', () => {
    const log = new Log();
    log.apply(acquire('foo', 1_000, { owner: 'a' }));
    const waiter = handOff(7, { owner: 'b', ttlMs: 100 });
    assert.deepEqual(log.apply(release('foo', 1_050, { owner: 'a', handOff: waiter })), {
      result: {
        outcome: 'released',
        token: 1,
        handOff: { waiterId: 7, hold: hold('b', 2, 1_050, 100), mode: 'exclusive', renewed: false },
      },
      events: [
        event('release', 'foo', 'a', 1, 2, 0, 1_050),
        event('grant', 'foo', 'b', 2, 2, 1, 1_050),
      ],
    });
    assert.deepEqual(log.machine.get('foo')?.holders, [hold('b', 2, 1_050, 100)]);
  });

  test('a release that fails (not the owner) hands nothing over', () => {
    const log = new Log();
    log.apply(acquire('foo', 1, { owner: 'a' }));
    assert.deepEqual(
      log.result(release('foo', 2, { owner: 'x', handOff: handOff(1, { owner: 'b' }) })),
      {
        outcome: 'not-owner',
        holders: [hold('a', 1, 1)],
      },
    );
    assert.deepEqual(log.machine.get('foo')?.holders, [hold('a', 1, 1)]);
  });

  test('an exclusive waiter does not get a shared lock that still has holders', () => {
    const log = new Log();
    log.apply(acquire('s', 1, { owner: 'a', mode: 'shared' }));
    log.apply(acquire('s', 1, { owner: 'b', mode: 'shared' }));
    assert.deepEqual(
      log.result(release('s', 2, { owner: 'a', handOff: handOff(1, { owner: 'w' }) })),
      {
        outcome: 'released',
        token: 1,
        handOff: null,
      },
    );
    assert.deepEqual(log.machine.get('s')?.holders, [hold('b', 2, 1)]);
  });

  test('a shared waiter joins a shared lock when a holder leaves room', () => {
    const log = new Log();
    log.apply(acquire('s', 1, { owner: 'a', mode: 'shared', limit: 2 }));
    log.apply(acquire('s', 1, { owner: 'b', mode: 'shared' }));
    const waiter = handOff(3, { owner: 'c', mode: 'shared' });
    assert.deepEqual(log.result(release('s', 2, { owner: 'a', handOff: waiter })), {
      outcome: 'released',
      token: 1,
      handOff: { waiterId: 3, hold: hold('c', 3, 2), mode: 'shared', renewed: false },
    });
  });

  test('expire and force-release hand off too', () => {
    const log = new Log();
    log.apply(acquire('foo', 1_000, { owner: 'a', ttlMs: 10 }));
    assert.deepEqual(log.result(expire('foo', 1_010, 1, handOff(1, { owner: 'b' }))), {
      outcome: 'expired',
      handOff: { waiterId: 1, hold: hold('b', 2, 1_010), mode: 'exclusive', renewed: false },
    });
    assert.deepEqual(log.result(forceRelease('foo', 1_020, handOff(2, { owner: 'c' }))), {
      outcome: 'released',
      token: 2,
      handOff: { waiterId: 2, hold: hold('c', 3, 1_020), mode: 'exclusive', renewed: false },
    });
  });

  test('an expire that is a no-op hands nothing over', () => {
    const log = new Log();
    log.apply(acquire('foo', 1_000, { owner: 'a', ttlMs: 10 }));
    assert.deepEqual(log.result(expire('foo', 1_005, 1, handOff(1, { owner: 'b' }))), {
      outcome: 'not-expired',
    });
    assert.deepEqual(log.machine.get('foo')?.holders, [hold('a', 1, 1_000, 10)]);
  });

  test('a waiter whose owner holds the lock already keeps its hold and token (renewed)', () => {
    const log = new Log();
    log.apply(acquire('s', 1, { owner: 'a', mode: 'shared' }));
    log.apply(acquire('s', 1, { owner: 'b', mode: 'shared' }));
    const waiter = handOff(4, { owner: 'b', mode: 'shared', ttlMs: 30 });
    assert.deepEqual(log.result(release('s', 5, { owner: 'a', handOff: waiter })), {
      outcome: 'released',
      token: 1,
      handOff: {
        waiterId: 4,
        hold: { ...hold('b', 2, 1, 30, true), expiresAtMs: 35 },
        mode: 'shared',
        renewed: true,
      },
    });
  });
});

describe('a clean-up release by token (a grant whose client went away)', () => {
  test('releases the hold as granted', () => {
    const log = new Log();
    log.apply(acquire('foo', 1_000, { owner: 'a', ttlMs: 500 }));
    assert.deepEqual(log.result(release('foo', 1_100, { owner: 'a', token: 1 })), {
      outcome: 'released',
      token: 1,
      handOff: null,
    });
  });

  test('leaves it once its owner renewed it: the owner came back and was told it holds it', () => {
    const log = new Log();
    log.apply(acquire('foo', 1_000, { owner: 'a', ttlMs: 500 }));
    log.apply(refresh('foo', 1_100, 'a'));
    log.apply(acquire('bar', 1_100, { owner: 'a' }));
    log.apply(acquire('bar', 1_200, { owner: 'a' }));
    for (const [name, token] of [
      ['foo', 1],
      ['bar', 3],
    ] as const) {
      assert.equal(
        log.result(release(name, 1_300, { owner: 'a', token })).outcome,
        'not-owner',
        `${name} stays held`,
      );
    }
    // The owner's own release (no token) still releases it.
    assert.equal(log.result(release('foo', 1_300, { owner: 'a' })).outcome, 'released');
  });
});

describe("extend-leases (a new leader's first command)", () => {
  test('every live lease gets max(its deadline, now + TTL); run-out leases and unleased holds stay', () => {
    const log = new Log();
    log.apply(acquire('short', 1_000, { owner: 'a', ttlMs: 100 })); // runs out at 1 100
    log.apply(acquire('long', 1_000, { owner: 'b', ttlMs: 10_000 })); // 11 000, then 11 500
    log.apply(acquire('mid', 1_000, { owner: 'c', ttlMs: 1_000 })); // 2 000, then 2 500
    log.apply(acquire('forever', 1_000, { owner: 'd' }));
    assert.deepEqual(log.apply(extendLeases(1_500)), {
      result: { outcome: 'extended', leases: 2 },
      events: [],
    });
    assert.deepEqual(log.machine.get('short')?.holders, [hold('a', 1, 1_000, 100)]);
    assert.deepEqual(log.machine.get('long')?.holders, [
      { ...hold('b', 2, 1_000, 10_000), expiresAtMs: 11_500 },
    ]);
    assert.deepEqual(log.machine.get('mid')?.holders, [
      { ...hold('c', 3, 1_000, 1_000), expiresAtMs: 2_500 },
    ]);
    assert.deepEqual(log.machine.get('forever')?.holders, [hold('d', 4, 1_000)]);
    assert.deepEqual(
      [...log.machine.deadlines()].map(({ name, expiresAtMs }) => [name, expiresAtMs]),
      [
        ['short', 1_100],
        ['mid', 2_500],
        ['long', 11_500],
      ],
    );
  });
});

describe('fencing tokens and events', () => {
  test('tokens increase with every grant of every lock; an entry grants at most once', () => {
    const log = new Log();
    const tokens: number[] = [];
    for (let round = 0; round < 5; round++) {
      for (const name of ['a', 'b']) {
        const result = log.result(acquire(name, round));
        assert.equal(result.outcome, 'acquired');
        if (result.outcome === 'acquired') tokens.push(result.hold.token);
        log.apply(release(name, round));
      }
      log.noop();
    }
    assert.deepEqual(tokens, [1, 3, 6, 8, 11, 13, 16, 18, 21, 23]);
  });

  test("event ids are <index>-<n>, n counting the entry's events from 0", () => {
    const log = new Log();
    log.apply(acquire('s', 0, { owner: 'a', mode: 'shared', ttlMs: 5 }));
    log.apply(acquire('s', 0, { owner: 'b', mode: 'shared', ttlMs: 5 }));
    const { events } = log.apply(acquire('s', 10, { owner: 'c', mode: 'shared' }));
    assert.deepEqual(
      events.map(({ type, owner, index, n }) => [type, owner, `${index}-${n}`]),
      [
        ['expire', 'a', '3-0'],
        ['expire', 'b', '3-1'],
        ['grant', 'c', '3-2'],
      ],
    );
  });
});

describe('reads: names in order, deadlines in order, decide', () => {
  test('names() walks held names in byte order from a point, without sorting', () => {
    const log = new Log();
    for (const name of ['b', 'a', 'B', 'ab', 'c']) log.apply(acquire(name, 1));
    assert.deepEqual([...log.machine.names('', false)], ['B', 'a', 'ab', 'b', 'c']);
    assert.deepEqual([...log.machine.names('a', true)], ['ab', 'b', 'c']);
    assert.deepEqual([...log.machine.names('a', false)], ['a', 'ab', 'b', 'c']);
    log.apply(release('ab', 1));
    assert.deepEqual([...log.machine.names('aa', false)], ['b', 'c']);
  });

  test('live() hides holds whose lease ran out; decide() answers as apply() would', () => {
    const log = new Log();
    log.apply(acquire('foo', 1_000, { owner: 'a', ttlMs: 100 }));
    assert.deepEqual(log.machine.live('foo', 1_099)?.holders, [hold('a', 1, 1_000, 100)]);
    assert.equal(log.machine.live('foo', 1_100), undefined);
    assert.deepEqual(log.machine.decide('foo', acquire('foo', 0, { owner: 'b' }), 1_099), {
      kind: 'conflict',
    });
    assert.deepEqual(log.machine.decide('foo', acquire('foo', 0, { owner: 'b' }), 1_100), {
      kind: 'grant',
    });
    assert.deepEqual(log.machine.decide('foo', acquire('foo', 0, { owner: 'a' }), 1_050), {
      kind: 'renew',
      hold: hold('a', 1, 1_000, 100),
    });
  });
});

describe('entries apply exactly once, in order', () => {
  const cases: { name: string; run(machine: LockStateMachine): void; message: RegExp }[] = [
    { name: 'a gap', run: (m) => m.apply(3, acquire('x', 1)), message: /entry 3 .* after entry 1/ },
    {
      name: 'a repeat',
      run: (m) => m.apply(1, acquire('x', 1)),
      message: /entry 1 .* after entry 1/,
    },
    { name: 'going back', run: (m) => m.apply(0, release('foo', 1)), message: /entry 0 / },
    { name: 'a noop gap', run: (m) => m.applyNoop(5), message: /entry 5 .* after entry 1/ },
  ];
  for (const { name, run, message } of cases) {
    test(`${name} is an assertion failure and changes nothing`, () => {
      const log = new Log();
      log.apply(acquire('foo', 1));
      assert.throws(
        () => run(log.machine),
        (error: unknown) => {
          assert.ok(error instanceof AssertionError, `expected AssertionError: ${error}`);
          assert.match(error.message, message);
          return true;
        },
      );
      assert.equal(log.machine.appliedIndex, 1);
      assert.deepEqual(log.machine.get('foo')?.holders, [hold(null, 1, 1)]);
      assert.equal(log.machine.get('x'), undefined);
    });
  }
});
