/**
 * Answers for requests no route took: unknown paths (404), known paths with another method (405
 * with `Allow`), and per-lock paths the router refused before their route could see them (a name
 * fastify could not decode, like `%BD` or `%G1`, or a very long one), which get the same 400
 * the route gives.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { LockdError } from '../../errors.js';
import { internalError, notFoundError, sendError } from '../reply.js';
import { type LockTarget, requestPath, resolveLockTarget } from '../request-target.js';
import {
  clusterPath,
  clusterRouteMethods,
  faultsPath,
  faultsRouteMethods,
  membersPath,
  membersRouteMethods,
} from './cluster.js';
import { eventsPath, eventsRouteMethods } from './events.js';
import { healthPath, healthRouteMethods } from './health.js';
import { listPath, listRouteMethods } from './list.js';
import { lockRouteMethods } from './locks.js';

interface KnownPath {
  readonly methods: readonly string[];
  readonly lockTarget: LockTarget | undefined;
}

const fixedPaths: ReadonlyMap<string, readonly string[]> = new Map<string, readonly string[]>([
  [healthPath, healthRouteMethods],
  [listPath, listRouteMethods],
  [eventsPath, eventsRouteMethods],
  [clusterPath, clusterRouteMethods],
  [membersPath, membersRouteMethods],
  [faultsPath, faultsRouteMethods],
]);

/** The methods the path of `rawUrl` answers to, or undefined when it is not a path we serve. */
function knownPath(rawUrl: string): KnownPath | undefined {
  const path = requestPath(rawUrl);
  const fixedMethods = path === undefined ? undefined : fixedPaths.get(path);
  if (fixedMethods !== undefined) return { methods: fixedMethods, lockTarget: undefined };
  const lockTarget = resolveLockTarget(rawUrl);
  if (lockTarget.kind === 'not-a-lock-path') return undefined;
  return { methods: lockRouteMethods[lockTarget.resource], lockTarget };
}

/** The not-found handler: every request the router did not match ends here. */
export function answerUnrouted(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = knownPath(request.raw.url ?? '');
  if (path === undefined) return sendError(reply, notFoundError());
  if (!path.methods.includes(request.method)) {
    reply.header('Allow', path.methods.join(', '));
    const message = `Method ${request.method} not allowed`;
    return sendError(reply, new LockdError('LOCKD_ERR_METHOD_NOT_ALLOWED', message));
  }
  const target = path.lockTarget;
  // A fixed path whose route is not served by this server (the cluster routes of a server built
  // without them, /debug/faults without fault injection): it does not exist here.
  if (target === undefined) return sendError(reply, notFoundError());
  if (target.kind === 'bad-name') {
    return sendError(reply, new LockdError('LOCKD_ERR_BAD_NAME', target.message));
  }
  // A served path and method that the router did not take: the router and resolveLockTarget
  // disagree, which is a bug here. It is answered, not thrown: nothing catches errors this early.
  request.log.error({ url: request.raw.url }, 'bug: router refused a valid request target');
  return sendError(reply, internalError());
}

/**
 * fastify's `frameworkErrors`: the router refused the request target before routing. Only the
 * errors of the router reach here; whatever else arrives is unexpected and logged.
 */
export function answerFrameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  switch (error.code) {
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return answerUnrouted(request, reply);
    default:
      request.log.error({ err: error }, 'unexpected framework error');
      return sendError(reply, internalError());
  }
}
