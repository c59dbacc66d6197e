/**
 * `GET /lock/:name/events` and `GET /events?prefix=`: Server-Sent Events of lock changes (see
 * event-streams.ts). Parameters and the stream bound are checked before anything is written, so
 * those failures are ordinary JSON errors. HEAD is not served: a stream has no headers to preview.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { EventStreams } from '../event-streams.js';
import type { LockService } from '../lock-service.js';
import { eventsParameters } from '../route-parameters.js';
import { checkLockName, lockNameOf } from './locks.js';

export const eventsPath = '/events';
export const eventsRouteMethods = ['GET'] as const;

function requestInput(request: FastifyRequest): { rawUrl: string; body: unknown } {
  return { rawUrl: request.raw.url ?? '', body: request.body };
}

export function registerEventRoutes(
  app: FastifyInstance,
  options: { readonly service: LockService; readonly streams: EventStreams },
): void {
  const { service, streams } = options;
  app.get(
    '/lock/:name/events',
    { onRequest: checkLockName, exposeHeadRoute: false },
    async (request, reply) => {
      const name = lockNameOf(request, 'events');
      const header = request.headers['last-event-id'];
      const { lastEventId } = eventsParameters(requestInput(request), header, {
        prefixAccepted: false,
      });
      streams.serve(service, { filter: { name, prefix: '' }, lastEventId }, reply);
      return reply;
    },
  );
  app.get(eventsPath, { exposeHeadRoute: false }, async (request, reply) => {
    const header = request.headers['last-event-id'];
    const { prefix, lastEventId } = eventsParameters(requestInput(request), header, {
      prefixAccepted: true,
    });
    streams.serve(service, { filter: { name: null, prefix }, lastEventId }, reply);
    return reply;
  });
}
