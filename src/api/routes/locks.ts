/**
 * The per-lock routes: GET/HEAD (describe), POST (acquire) and DELETE (release) on /lock/:name,
 * and POST /lock/:name/refresh. The name is read from the raw request target (see
 * request-target.ts) and checked before the body is read; parameters are checked before the
 * service is called (see route-parameters.ts). A request without parameters behaves as the seed's.
 */
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
} from 'fastify';
import { LockdError } from '../../errors.js';
import { assert, assertNever } from '../../util/assert.js';
import type { Grant, HolderView, LockService } from '../lock-service.js';
import { notFoundError, sendError, sendJson } from '../reply.js';
import { watchClientPresence } from '../request-lifetime.js';
import { type LockResource, resolveLockTarget } from '../request-target.js';
import {
  acquireParameters,
  describeParameters,
  refreshParameters,
  releaseParameters,
} from '../route-parameters.js';
import { withTimeout } from '../timeout.js';
import { grantJson, holderJson, lockViewJson, namedHolder } from '../views.js';

/** The methods of each per-lock path, as sent in `Allow` when another one is used. */
export const lockRouteMethods: Readonly<Record<LockResource, readonly string[]>> = {
  lock: ['GET', 'HEAD', 'POST', 'DELETE'],
  refresh: ['POST'],
  events: ['GET'],
};

export const lockTokenHeader = 'Lockd-Token';
/** On a write answered by a follower (which forwarded it): the leader's client address. */
export const lockLeaderHeader = 'Lockd-Leader';

export const conflictMessage = 'Lock conflict';
export const notOwnerMessage = 'Lock held by another owner';
export const ownedByOtherMessage = 'Lock held by an owner (give owner, or force=true)';

export interface LockRoutesOptions {
  readonly service: LockService;
  readonly requestTimeoutMs: number;
}

/**
 * The onRequest hook of every per-lock route: a request whose name is not valid is answered here,
 * so its body is not read and the service never hears of it. A hook that sent the reply does not
 * call `done`: fastify then runs neither the later hooks nor the handler. A callback, not an async
 * function: it runs for every lock request, and a promise would cost a microtask turn.
 */
export function checkLockName(
  request: FastifyRequest,
  reply: FastifyReply,
  done: HookHandlerDoneFunction,
): void {
  const target = resolveLockTarget(request.raw.url ?? '');
  switch (target.kind) {
    case 'name':
      done();
      return;
    case 'bad-name':
      sendError(reply, new LockdError('LOCKD_ERR_BAD_NAME', target.message));
      return;
    case 'not-a-lock-path':
      // The router matched an empty name or a name with `/` in it: not this route.
      sendError(reply, notFoundError());
      return;
    default:
      assertNever(target);
  }
}

/** The name of a request that passed checkLockName. */
export function lockNameOf(request: FastifyRequest, resource: LockResource): string {
  const target = resolveLockTarget(request.raw.url ?? '');
  assert(target.kind === 'name', `lock handler reached with a ${target.kind} target`);
  assert(target.resource === resource, `${resource} handler reached for ${target.resource}`);
  return target.name;
}

function requestInput(request: FastifyRequest): { rawUrl: string; body: unknown } {
  return { rawUrl: request.raw.url ?? '', body: request.body };
}

/** `{"holder":{…}}` naming the first holder with an owner; nothing when all are anonymous. */
function holderDetails(holders: readonly HolderView[]): { holder?: ReturnType<typeof holderJson> } {
  const holder = namedHolder(holders);
  return holder === undefined ? {} : { holder: holderJson(holder) };
}

/**
 * Names the leader on a write this node forwarded to it: a client that knows that address may
 * send its next writes there and save the forwarding hop. Nothing on the leader itself.
 */
function hintLeader(reply: FastifyReply, service: LockService): void {
  const leader = service.leaderClientAddress();
  if (leader !== null) reply.header(lockLeaderHeader, leader);
}

/** The Grant as the body, its token in Lockd-Token too (checked first: a bad one is a 500). */
function sendGrant(reply: FastifyReply, grant: Grant): FastifyReply {
  const body = grantJson(grant);
  return sendJson(reply.header(lockTokenHeader, String(grant.token)), 200, body);
}

function registerAcquire(app: FastifyInstance, options: LockRoutesOptions): void {
  const { service, requestTimeoutMs } = options;
  app.post('/lock/:name', { onRequest: checkLockName }, async (request, reply) => {
    const name = lockNameOf(request, 'lock');
    const parameters = acquireParameters(requestInput(request), service.limits);
    const presence = watchClientPresence(reply);
    // A waiting acquire may be answered when its wait is over, plus the usual bound.
    const timeoutMs = parameters.waitMs + requestTimeoutMs;
    let result: Awaited<ReturnType<LockService['acquire']>>;
    try {
      result = await withTimeout(
        service.acquire({ name, ...parameters, signal: presence.signal }),
        timeoutMs,
        presence.signal,
      );
    } catch (error) {
      // Nobody will be told of a grant that comes after this: the service must not keep it.
      presence.abandon();
      throw error;
    }
    hintLeader(reply, service);
    switch (result.outcome) {
      case 'acquired':
        return sendGrant(reply, result.grant);
      case 'conflict':
        return sendError(
          reply,
          new LockdError('LOCKD_ERR_LOCK_CONFLICT', conflictMessage),
          holderDetails(result.holders),
        );
      default:
        return assertNever(result, 'unknown acquire outcome');
    }
  });
}

function registerRefresh(app: FastifyInstance, options: LockRoutesOptions): void {
  const { service, requestTimeoutMs } = options;
  app.post('/lock/:name/refresh', { onRequest: checkLockName }, async (request, reply) => {
    const name = lockNameOf(request, 'refresh');
    const parameters = refreshParameters(requestInput(request), service.limits);
    const result = await withTimeout(
      service.refresh({ name, ...parameters }),
      requestTimeoutMs,
      watchClientPresence(reply).signal,
    );
    hintLeader(reply, service);
    switch (result.outcome) {
      case 'refreshed':
        return sendGrant(reply, result.grant);
      case 'not-locked':
        return sendError(reply, new LockdError('LOCKD_ERR_NOT_LOCKED', 'Not Found'));
      case 'not-owner':
        return sendError(
          reply,
          new LockdError('LOCKD_ERR_NOT_OWNER', notOwnerMessage),
          holderDetails(result.holders),
        );
      default:
        return assertNever(result, 'unknown refresh outcome');
    }
  });
}

function registerRelease(app: FastifyInstance, options: LockRoutesOptions): void {
  const { service, requestTimeoutMs } = options;
  app.delete('/lock/:name', { onRequest: checkLockName }, async (request, reply) => {
    const name = lockNameOf(request, 'lock');
    const parameters = releaseParameters(requestInput(request), service.limits);
    const result = await withTimeout(
      service.release({ name, ...parameters }),
      requestTimeoutMs,
      watchClientPresence(reply).signal,
    );
    hintLeader(reply, service);
    switch (result.outcome) {
      case 'released':
        return sendJson(reply, 200, {});
      case 'not-locked':
        return sendError(reply, new LockdError('LOCKD_ERR_NOT_LOCKED', 'Not Found'));
      case 'not-owner': {
        // An anonymous caller is not "another owner": it is told how to release an owned lock.
        const message = parameters.owner === null ? ownedByOtherMessage : notOwnerMessage;
        return sendError(
          reply,
          new LockdError('LOCKD_ERR_NOT_OWNER', message),
          holderDetails(result.holders),
        );
      }
      default:
        return assertNever(result, 'unknown release outcome');
    }
  });
}

export function registerLockRoutes(app: FastifyInstance, options: LockRoutesOptions): void {
  const { service, requestTimeoutMs } = options;
  // HEAD is derived from GET by fastify (exposeHeadRoutes), hooks included, minus the body.
  app.get('/lock/:name', { onRequest: checkLockName }, async (request, reply) => {
    const name = lockNameOf(request, 'lock');
    const parameters = describeParameters(requestInput(request));
    const view = await withTimeout(
      service.describe(name, parameters),
      requestTimeoutMs,
      watchClientPresence(reply).signal,
    );
    if (view === undefined) return sendError(reply, notFoundError());
    assert(view.name === name, `describe(${name}) answered lock ${view.name}`);
    return sendJson(reply, 200, lockViewJson(view));
  });
  registerAcquire(app, options);
  registerRefresh(app, options);
  registerRelease(app, options);
}
