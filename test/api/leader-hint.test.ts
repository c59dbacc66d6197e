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
      const acquired = await app.inject({ method: 'POST', url: '/lock/a?owner=w1&ttl=10s' });
      assert.equal(acquired.statusCode, 200);
      assert.equal(acquired.headers[header], '127.0.0.1:2082');
      const conflict = await app.inject({ method: 'POST', url: '/lock/a?owner=w2' });
      assert.equal(conflict.statusCode, 409);
      assert.equal(conflict.headers[header], '127.0.0.1:2082');
      const refreshed = await app.inject({ method: 'POST', url: '/lock/a/refresh?owner=w1' });
      assert.equal(refreshed.statusCode, 200);
      assert.equal(refreshed.headers[header], '127.0.0.1:2082');
      const released = await app.inject({ method: 'DELETE', url: '/lock/a?owner=w1' });
      assert.equal(released.statusCode, 200);
      assert.equal(released.headers[header], '127.0.0.1:2082');
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
