/**
 * The seed's lock API: GET (is it locked?), POST (acquire) and DELETE (release) on /lock/:name,
 * HEAD answering like GET. The name is read from the raw request target (see request-target.ts),
 * checked before the body is read, and the service is only called with a valid name.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LockdError } from '../../errors.js';
import { assert, assertNever } from '../../util/assert.js';
import type { LockService } from '../lock-service.js';
import { notFoundError, sendError, sendJson } from '../reply.js';
import { resolveLockTarget } from '../request-target.js';
import { withTimeout } from '../timeout.js';

/** The methods of /lock/:name, as sent in `Allow` when another one is used. */
export const lockRouteMethods = ['GET', 'HEAD', 'POST', 'DELETE'] as const;

export interface LockRoutesOptions {
  readonly service: LockService;
  readonly requestTimeoutMs: number;
}

/**
 * The onRequest hook of every lock route: a request whose name is not valid is answered here, so
 * its body is not read and the service never hears of it. Once a hook has sent the reply, fastify
 * runs neither the later hooks nor the handler.
 */
async function checkLockName(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const target = resolveLockTarget(request.raw.url ?? '');
  switch (target.kind) {
    case 'name':
      return;
    case 'bad-name':
      sendError(reply, new LockdError('LOCKD_ERR_BAD_NAME', target.message));
      return;
    case 'not-a-lock-path':
      // The router matched `/lock/` (an empty name) or a name with `/` in it: not this route.
      sendError(reply, notFoundError());
      return;
    default:
      assertNever(target);
  }
}

/** The name of a request that passed checkLockName. */
function lockNameOf(request: FastifyRequest): string {
  const target = resolveLockTarget(request.raw.url ?? '');
  assert(target.kind === 'name', `lock handler reached with a ${target.kind} target`);
  return target.name;
}

export function registerLockRoutes(app: FastifyInstance, options: LockRoutesOptions): void {
  const { service, requestTimeoutMs } = options;
  const url = '/lock/:name';

  // HEAD is derived from GET by fastify (exposeHeadRoutes), hooks included, minus the body.
  app.get(url, { onRequest: checkLockName }, async (request, reply) => {
    const locked = await withTimeout(service.isLocked(lockNameOf(request)), requestTimeoutMs);
    assert(typeof locked === 'boolean', 'isLocked did not answer a boolean');
    return locked ? sendJson(reply, 200, {}) : sendError(reply, notFoundError());
  });

  app.post(url, { onRequest: checkLockName }, async (request, reply) => {
    const result = await withTimeout(service.acquire(lockNameOf(request)), requestTimeoutMs);
    switch (result.outcome) {
      case 'acquired':
        return sendJson(reply, 200, {});
      case 'conflict':
        return sendError(reply, new LockdError('LOCKD_ERR_LOCK_CONFLICT', 'Lock conflict'));
      default:
        return assertNever(result, 'unknown acquire outcome');
    }
  });

  app.delete(url, { onRequest: checkLockName }, async (request, reply) => {
    const result = await withTimeout(service.release(lockNameOf(request)), requestTimeoutMs);
    switch (result.outcome) {
      case 'released':
        return sendJson(reply, 200, {});
      case 'not-locked':
        return sendError(reply, notFoundError());
      default:
        return assertNever(result, 'unknown release outcome');
    }
  });
}
