import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { lockLeaderHeader } from '../../src/api/routes/locks.js';
import { buildTestServer } from './helpers.js';

const header = lockLeaderHeader.toLowerCase();

describe('Lockd-Leader on writes a follower answers', () => {
  test('acquire, refresh and release name the leader, whatever their outcome', async () => {
    const { app, service } = buildTestServer();
    service.leaderAddress = '127.0.0.1:2082';
    try {
      const writes = [
        ['POST', '/lock/a?owner=w1&ttl=10s', 200],
        ['POST', '/lock/a?owner=w2', 409],
        ['POST', '/lock/a/refresh?owner=w1', 200],
        ['DELETE', '/lock/a?owner=w1', 200],
      ] as const;
      for (const [method, url, status] of writes) {
        const response = await app.inject({ method, url });
        assert.equal(response.statusCode, status, `${method} ${url}`);
        assert.equal(response.headers[header], '127.0.0.1:2082', `${method} ${url}`);
      }
    } finally {
      await app.close();
    }
  });

  test('no header from the leader itself, on reads, or on a request refused before the service', async () => {
    const { app, service } = buildTestServer();
    try {
      const onLeader = await app.inject({ method: 'POST', url: '/lock/b' });
      assert.equal(onLeader.statusCode, 200);
      assert.equal(onLeader.headers[header], undefined);
      service.leaderAddress = '127.0.0.1:2082';
      const read = await app.inject({ method: 'GET', url: '/lock/b' });
      assert.equal(read.statusCode, 200);
      assert.equal(read.headers[header], undefined);
      const badName = await app.inject({ method: 'POST', url: '/lock/b%2' });
      assert.equal(badName.statusCode, 400);
      assert.equal(badName.headers[header], undefined);
    } finally {
      await app.close();
    }
  });
});
