/** `GET /locks?prefix=&after=&limit=`: the held locks, sorted by name, a page at a time. */
import type { FastifyInstance } from 'fastify';
import { assert } from '../../util/assert.js';
import type { LockService } from '../lock-service.js';
import { sendJson } from '../reply.js';
import { watchClientPresence } from '../request-lifetime.js';
import { listParameters } from '../route-parameters.js';
import { withTimeout } from '../timeout.js';
import { listJson } from '../views.js';

export const listPath = '/locks';
export const listRouteMethods = ['GET', 'HEAD'] as const;

export function registerListRoute(
  app: FastifyInstance,
  options: { readonly service: LockService; readonly requestTimeoutMs: number },
): void {
  const { service, requestTimeoutMs } = options;
  app.get(listPath, async (request, reply) => {
    const parameters = listParameters({ rawUrl: request.raw.url ?? '', body: request.body });
    const result = await withTimeout(
      service.list(parameters),
      requestTimeoutMs,
      watchClientPresence(reply).signal,
    );
    assert(
      result.next === null || result.next > parameters.after,
      `list after ${parameters.after} answered next ${result.next}: paging would not advance`,
    );
    return sendJson(reply, 200, listJson(result, parameters.limit));
  });
}
