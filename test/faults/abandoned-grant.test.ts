/**
 * A lockd bug the fault runs found (seed 9, a paused follower), reduced to a deterministic case:
 * an acquire whose client went away is granted, the same owner's retry (a refresh, or an acquire
 * as the README advises after a lost answer) renews that grant and is answered 200 with a fresh
 * lease, and then lockd's cleanup of the abandoned grant releases it by token, since the token
 * did not change. The owner is told it holds the lock for 10 s; the lock is free at once.
 *
 * Fixed: a clean-up release by token leaves a hold its owner renewed (Hold.renewed).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { type ClientRequest, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FaultCluster } from './fault-cluster.js';
import { httpRequest, parseJsonObject } from './http.js';

/** Resolves once the request's bytes are handed to the system (the paused node reads them later). */
function sent(outgoing: ClientRequest): Promise<void> {
  return new Promise((resolveSent) => outgoing.once('finish', () => resolveSent()));
}

/**
 * One try of the case. 'missed' when the retry found no lock (404): the follower noticed the
 * first client was gone before it passed the acquire on, or passed the retry on first, so no
 * grant was there to renew, and the case did not arise.
 */
async function renewedGrantSurvivesOnce(
  retryPath: string,
  waitMs: number,
): Promise<'checked' | 'missed'> {
  const directory = mkdtempSync(join(tmpdir(), 'lockd-abandoned-'));
  const cluster = await FaultCluster.create({ size: 3, directory, requestTimeoutMs: 2_000 });
  try {
    await cluster.startAll();
    const leader = await cluster.waitForLeader(30_000);
    const follower = cluster.ids.find((id) => id !== leader) ?? leader;
    cluster.pause(follower);
    const abandoned = request({
      host: '127.0.0.1',
      port: cluster.clientPort(follower),
      method: 'POST',
      path: `/lock/r?owner=o&ttl=10000&wait=${waitMs}`,
      agent: false,
    });
    abandoned.on('error', () => {});
    abandoned.end();
    await sent(abandoned);
    abandoned.destroy();
    const retry = httpRequest({
      port: cluster.clientPort(follower),
      method: 'POST',
      path: retryPath,
      timeoutMs: 15_000,
    });
    cluster.resume(follower);
    const answer = await retry;
    if (answer.type === 'answer' && answer.status === 404) return 'missed';
    assert.equal(answer.type === 'answer' ? answer.status : answer.type, 200);
    const token = answer.type === 'answer' ? parseJsonObject(answer.body)?.token : undefined;
    // The lease runs 10 s: for the next second the lock must stay the owner's.
    const observedUntilMs = Date.now() + 1_000;
    while (Date.now() < observedUntilMs) {
      const check = await httpRequest({
        port: cluster.clientPort(leader),
        method: 'GET',
        path: '/lock/r',
        timeoutMs: 5_000,
      });
      assert.equal(check.type === 'answer' ? check.status : check.type, 200, 'the lock was freed');
      const view = check.type === 'answer' ? parseJsonObject(check.body) : undefined;
      const holders = Array.isArray(view?.holders) ? (view.holders as unknown[]) : [];
      const [first] = holders as { owner?: unknown; token?: unknown }[];
      assert.deepEqual([holders.length, first?.owner, first?.token], [1, 'o', token]);
      await new Promise((resolveDelay) => setTimeout(resolveDelay, 100));
    }
    return 'checked';
  } finally {
    await cluster.stop();
    rmSync(directory, { recursive: true, force: true });
  }
}

/** The case, tried on fresh clusters until it arises (a bounded number of times). */
async function renewedGrantSurvives(retryPath: string, waitMs: number): Promise<void> {
  const attemptsMax = 5;
  for (let attempt = 1; attempt <= attemptsMax; attempt++) {
    if ((await renewedGrantSurvivesOnce(retryPath, waitMs)) === 'checked') return;
  }
  assert.fail(`the retry found no grant to renew in ${attemptsMax} tries`);
}

describe('a grant whose client went away, renewed by the same owner', () => {
  test('a refresh answered 200 keeps the lock held', () =>
    renewedGrantSurvives('/lock/r/refresh?owner=o&ttl=10000', 1_000));

  test('a re-acquire answered 200 keeps the lock held', () =>
    renewedGrantSurvives('/lock/r?owner=o&ttl=10000', 0));
});
