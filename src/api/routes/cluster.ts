/**
 * The cluster routes: `GET /cluster` (this node's view of Raft: role, term, leader, indexes and
 * every member), `POST /cluster/members` and `DELETE /cluster/members/:id` (membership), and the
 * test-only `POST /debug/faults`. Changes to the cluster are admin operations: they need
 * `Authorization: Bearer <cluster secret>` when a secret is configured, and come from loopback
 * otherwise.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LockdError } from '../../errors.js';
import { parseHostPort } from '../../util/address.js';
import type { ClusterService, ClusterStatus } from '../cluster-service.js';
import type { JsonValue } from '../json.js';
import { sendError, sendJson } from '../reply.js';
import { withTimeout } from '../timeout.js';

export const clusterPath = '/cluster';
export const clusterRouteMethods = ['GET', 'HEAD'] as const;
export const membersPath = '/cluster/members';
export const membersRouteMethods = ['POST'] as const;
export const faultsPath = '/debug/faults';
export const faultsRouteMethods = ['POST'] as const;
/** Adding a member waits for it to catch up before promoting it: allow longer than a write. */
const membershipTimeoutMs = 60_000;
const maxFaultPeers = 16;

export interface ClusterRoutesOptions {
  readonly cluster: ClusterService;
  /** Required on admin routes as a bearer token; undefined = admin routes from loopback only. */
  readonly adminToken: string | undefined;
  readonly faultInjection: boolean;
}

export function registerClusterRoutes(app: FastifyInstance, options: ClusterRoutesOptions): void {
  const { cluster } = options;
  const admin = { onRequest: adminCheck(options.adminToken) };
  app.get(clusterPath, async (_request, reply) =>
    sendJson(reply, 200, statusJson(cluster.clusterStatus())),
  );

  app.post(membersPath, admin, async (request, reply) => {
    const member = parseMember(request.body);
    const status = await withTimeout(cluster.addMember(member), membershipTimeoutMs);
    return sendJson(reply, 200, statusJson(status));
  });

  app.delete(`${membersPath}/:id`, admin, async (request, reply) => {
    const id = parseNodeId((request.params as { id?: string }).id, 'id in the path');
    const status = await withTimeout(cluster.removeMember(id), membershipTimeoutMs);
    return sendJson(reply, 200, statusJson(status));
  });

  if (!options.faultInjection) return;
  app.post(faultsPath, admin, async (request, reply) => {
    cluster.setPeerFaults(parseFaults(request.body));
    return sendJson(reply, 200, {});
  });
}

function adminCheck(adminToken: string | undefined) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (adminToken === undefined) {
      const remote = request.socket.remoteAddress ?? '';
      if (remote === '127.0.0.1' || remote === '::1' || remote === '::ffff:127.0.0.1') return;
      sendError(
        reply,
        new LockdError(
          'LOCKD_ERR_FORBIDDEN',
          'Cluster changes are allowed from loopback only when no cluster secret is set',
        ),
      );
      return;
    }
    const header = request.headers.authorization ?? '';
    const given = Buffer.from(header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '');
    const expected = Buffer.from(adminToken);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      reply.header('WWW-Authenticate', 'Bearer realm="lockd"');
      sendError(
        reply,
        new LockdError(
          'LOCKD_ERR_UNAUTHORIZED',
          'Cluster changes need the header Authorization: Bearer, then the cluster secret',
        ),
      );
    }
  };
}

function statusJson(status: ClusterStatus): JsonValue {
  return {
    id: status.id,
    role: status.role,
    term: status.term,
    leader: status.leader,
    leaderAddress: status.leaderAddress,
    clientAddress: status.clientAddress,
    peerAddress: status.peerAddress,
    commitIndex: status.commitIndex,
    appliedIndex: status.appliedIndex,
    snapshotIndex: status.snapshotIndex,
    members: status.members.map((member) => ({
      id: member.id,
      clientAddress: member.clientAddress,
      peerAddress: member.peerAddress,
      role: member.role,
      matchIndex: member.matchIndex,
      lastContactMsAgo: member.lastContactMsAgo,
      reachable: member.reachable,
    })),
  };
}

function bodyRecord(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new LockdError('LOCKD_ERR_BAD_REQUEST', 'The body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

function parseMember(body: unknown): { id: number; clientAddress: string; peerAddress: string } {
  const record = bodyRecord(body);
  const unknown = Object.keys(record).find(
    (key) => !['id', 'clientAddress', 'peerAddress'].includes(key),
  );
  if (unknown !== undefined) {
    throw new LockdError(
      'LOCKD_ERR_BAD_REQUEST',
      `Unknown field ${unknown} (accepted: id, clientAddress, peerAddress)`,
    );
  }
  return {
    id: parseNodeId(record.id, 'id'),
    clientAddress: parseAddressField(record.clientAddress, 'clientAddress'),
    peerAddress: parseAddressField(record.peerAddress, 'peerAddress'),
  };
}

function parseNodeId(value: unknown, what: string): number {
  const id = typeof value === 'string' && /^\d{1,10}$/.test(value) ? Number(value) : value;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 1 || id > 2 ** 31 - 1) {
    throw new LockdError(
      'LOCKD_ERR_BAD_REQUEST',
      `${what} must be a whole number from 1 to 2147483647`,
    );
  }
  return id;
}

function parseAddressField(value: unknown, what: string): string {
  if (typeof value !== 'string')
    throw new LockdError('LOCKD_ERR_BAD_REQUEST', `${what} must be a "host:port" string`);
  const parsed = parseHostPort(value);
  if (typeof parsed === 'string' || parsed.port === 0) {
    throw new LockdError(
      'LOCKD_ERR_BAD_REQUEST',
      `${what} must be host:port with a port from 1 to 65535, not '${value}'`,
    );
  }
  return value;
}

function parseFaults(body: unknown): number[] {
  const isolatedFrom = bodyRecord(body).isolatedFrom;
  if (!Array.isArray(isolatedFrom) || isolatedFrom.length > maxFaultPeers) {
    throw new LockdError(
      'LOCKD_ERR_BAD_REQUEST',
      `isolatedFrom must be an array of at most ${maxFaultPeers} node ids`,
    );
  }
  return isolatedFrom.map((id) => parseNodeId(id, 'each id of isolatedFrom'));
}
