/**
 * Tests named after the rules and figures of the Raft paper that the unit tests of election,
 * replication and prevote do not already cover.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { log } from './helpers.js';
import { Network } from './network.js';

/** Figure 7: the leader of term 8, and the logs its followers may hold, as terms from index 1. */
const figure7Leader = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
const figure7Followers = {
  '(a) misses entries': [1, 1, 1, 4, 4, 5, 5, 6, 6],
  '(b) misses many entries': [1, 1, 1, 4],
  '(c) has an extra uncommitted entry': [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
  '(d) has extra entries of a later term': [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
  '(e) misses entries and has extra ones': [1, 1, 1, 4, 4, 4, 4],
  '(f) has a long divergent history': [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
} as const;

describe("Figure 7 / §5.3: the leader brings every follower's log into agreement with its own", () => {
  for (const [name, follower] of Object.entries(figure7Followers)) {
    test(`Figure 7 ${name}`, () => {
      // Node 1 holds the leader's log (all of it committed, as in etcd's version of this test),
      // node 2 the follower's, node 3 nothing: node 1 needs node 3's vote, as node 2's log may be
      // more up to date than its own.
      const network = new Network({
        ids: [1, 2, 3],
        seed: 70,
        nodeOptions: { preVote: false, checkQuorum: false },
        initialState: new Map([
          [
            1,
            {
              hardState: { term: 7, vote: 0, commit: figure7Leader.length },
              entries: log(figure7Leader),
            },
          ],
          [2, { hardState: { term: 7, vote: 0, commit: 0 }, entries: log(follower) }],
        ]),
      });
      network.node(1).campaign();
      network.stabilize();
      assert.deepEqual(
        [network.node(1).status().role, network.node(1).status().term],
        ['leader', 8],
      );
      const terms = (id: number) =>
        network.simulated(id).durable.entries.map((entry) => entry.term);
      assert.deepEqual(
        terms(1),
        [...figure7Leader, 8],
        'the leader appended its noop, nothing else',
      );
      assert.deepEqual(terms(2), terms(1));
      assert.deepEqual(
        network.simulated(2).durable.entries.slice(0, figure7Leader.length),
        log(figure7Leader),
        'entry for entry, not just the terms',
      );
      network.checkSafety();
    });
  }
});

describe('§5.2: randomized election timeouts make split votes rare', () => {
  test('§5.2 a 5-node cluster elects its first leader in its first term in at least 95 of 100 seeds', () => {
    const termsNeeded: number[] = [];
    for (let seed = 1; seed <= 100; seed++) {
      const network = new Network({ ids: [1, 2, 3, 4, 5], seed, nodeOptions: { preVote: false } });
      const leader = network.electLeader();
      termsNeeded.push(network.node(leader).status().term);
    }
    const firstTerm = termsNeeded.filter((terms) => terms === 1).length;
    assert.ok(firstTerm >= 95, `first leader in term 1 in ${firstTerm} seeds`);
    assert.ok(Math.max(...termsNeeded) <= 3, `worst case ${Math.max(...termsNeeded)} terms`);
  });
});
