import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type {
  AddMemberRequest,
  ClusterService,
  ClusterStatus,
} from '../../src/api/cluster-service.js';
import { buildServer } from '../../src/api/server.js';
import { LockdError } from '../../src/errors.js';
import { FakeLockService } from './fake-lock-service.js';
import { assertJsonResponse } from './helpers.js';

const status: ClusterStatus = {
  id: 1,
  role: 'leader',
  term: 4,
  leader: 1,
  leaderAddress: '127.0.0.1:2081',
  clientAddress: '127.0.0.1:2081',
  peerAddress: '127.0.0.1:3081',
  commitIndex: 17,
  appliedIndex: 17,
  snapshotIndex: 10,
  members: [
    {
      id: 1,
      clientAddress: '127.0.0.1:2081',
      peerAddress: '127.0.0.1:3081',
      role: 'leader',
      matchIndex: 17,
      lastContactMsAgo: null,
      reachable: true,
    },
    {
      id: 2,
      clientAddress: '127.0.0.1:2082',
      peerAddress: '127.0.0.1:3082',
      role: 'follower',
      matchIndex: 15,
      lastContactMsAgo: 40,
      reachable: true,
    },
  ],
};
const statusBody = `${JSON.stringify(status)}\n`;

class FakeCluster implements ClusterService {
  readonly calls: string[] = [];
  clusterStatus(): ClusterStatus {
    return status;
  }
  async addMember(request: AddMemberRequest): Promise<ClusterStatus> {
    this.calls.push(`add ${request.id} ${request.clientAddress} ${request.peerAddress}`);
    return status;
  }
  async removeMember(id: number): Promise<ClusterStatus> {
    if (id === 9) throw new LockdError('LOCKD_ERR_NOT_FOUND', 'Node 9 is not a member');
    this.calls.push(`remove ${id}`);
    return status;
  }
  setPeerFaults(isolatedFrom: readonly number[]): void {
    this.calls.push(`faults ${isolatedFrom.join(',')}`);
  }
}

function build(adminToken: string | undefined, faultInjection = false) {
  const cluster = new FakeCluster();
  const app = buildServer({
    service: new FakeLockService(),
    requestTimeoutMs: 1_000,
    logger: false,
    cluster: { cluster, adminToken, faultInjection },
  });
  return { app, cluster };
}

const member = { id: 3, clientAddress: '127.0.0.1:2083', peerAddress: '127.0.0.1:3083' };

describe('cluster routes', () => {
  test('GET /cluster answers the status, byte for byte', async () => {
    const { app } = build('s3cret');
    assertJsonResponse(await app.inject({ method: 'GET', url: '/cluster' }), {
      status: 200,
      body: statusBody,
    });
  });

  test('membership changes need the cluster secret as a bearer token', async () => {
    const { app, cluster } = build('s3cret');
    const unauthorized = {
      status: 401,
      body: '{"error":"Cluster changes need the header Authorization: Bearer, then the cluster secret"}\n',
      errorCode: 'LOCKD_ERR_UNAUTHORIZED',
    } as const;
    assertJsonResponse(
      await app.inject({ method: 'POST', url: '/cluster/members', payload: member }),
      unauthorized,
    );
    assertJsonResponse(
      await app.inject({
        method: 'DELETE',
        url: '/cluster/members/2',
        headers: { authorization: 'Bearer wrong!' },
      }),
      unauthorized,
    );
    assert.deepEqual(cluster.calls, []);
    const headers = { authorization: 'Bearer s3cret' };
    assertJsonResponse(
      await app.inject({ method: 'POST', url: '/cluster/members', payload: member, headers }),
      { status: 200, body: statusBody },
    );
    assertJsonResponse(await app.inject({ method: 'DELETE', url: '/cluster/members/2', headers }), {
      status: 200,
      body: statusBody,
    });
    assertJsonResponse(await app.inject({ method: 'DELETE', url: '/cluster/members/9', headers }), {
      status: 404,
      body: '{"error":"Node 9 is not a member"}\n',
      errorCode: 'LOCKD_ERR_NOT_FOUND',
    });
    assert.deepEqual(cluster.calls, ['add 3 127.0.0.1:2083 127.0.0.1:3083', 'remove 2']);
  });

  test('without a secret, changes are accepted from loopback only', async () => {
    const { app, cluster } = build(undefined);
    const fromLoopback = await app.inject({
      method: 'POST',
      url: '/cluster/members',
      payload: member,
      remoteAddress: '127.0.0.1',
    });
    assertJsonResponse(fromLoopback, { status: 200, body: statusBody });
    assertJsonResponse(
      await app.inject({
        method: 'POST',
        url: '/cluster/members',
        payload: member,
        remoteAddress: '10.1.2.3',
      }),
      {
        status: 403,
        body: '{"error":"Cluster changes are allowed from loopback only when no cluster secret is set"}\n',
        errorCode: 'LOCKD_ERR_FORBIDDEN',
      },
    );
    assert.deepEqual(cluster.calls, ['add 3 127.0.0.1:2083 127.0.0.1:3083']);
  });

  const badMembers: ReadonlyArray<readonly [unknown, string]> = [
    [[], 'The body must be a JSON object'],
    [{ ...member, id: 0 }, 'id must be a whole number from 1 to 2147483647'],
    [{ ...member, id: 'x' }, 'id must be a whole number from 1 to 2147483647'],
    [
      { ...member, clientAddress: 'nowhere' },
      "clientAddress must be host:port with a port from 1 to 65535, not 'nowhere'",
    ],
    [
      { ...member, peerAddress: 'h:0' },
      "peerAddress must be host:port with a port from 1 to 65535, not 'h:0'",
    ],
    [{ ...member, extra: true }, 'Unknown field extra (accepted: id, clientAddress, peerAddress)'],
  ];
  for (const [body, message] of badMembers) {
    test(`POST /cluster/members rejects ${JSON.stringify(body)} and changes nothing`, async () => {
      const { app, cluster } = build('s3cret');
      const response = await app.inject({
        method: 'POST',
        url: '/cluster/members',
        payload: JSON.stringify(body),
        headers: { authorization: 'Bearer s3cret', 'content-type': 'application/json' },
      });
      assertJsonResponse(response, {
        status: 400,
        body: `${JSON.stringify({ error: message })}\n`,
        errorCode: 'LOCKD_ERR_BAD_REQUEST',
      });
      assert.deepEqual(cluster.calls, []);
    });
  }

  test('POST /debug/faults exists only with fault injection enabled', async () => {
    const disabled = build('s3cret');
    const headers = { authorization: 'Bearer s3cret' };
    const payload = { isolatedFrom: [2, 3] };
    assertJsonResponse(
      await disabled.app.inject({ method: 'POST', url: '/debug/faults', payload, headers }),
      {
        status: 404,
        body: '{"error":"Not Found"}\n',
        errorCode: 'LOCKD_ERR_NOT_FOUND',
      },
    );
    const enabled = build('s3cret', true);
    assertJsonResponse(
      await enabled.app.inject({ method: 'POST', url: '/debug/faults', payload, headers }),
      { status: 200, body: '{}\n' },
    );
    assert.deepEqual(enabled.cluster.calls, ['faults 2,3']);
  });
});
