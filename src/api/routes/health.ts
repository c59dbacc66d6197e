import type { FastifyInstance } from 'fastify';
import { sendJson } from '../reply.js';

export const healthPath = '/healthz';
export const healthRouteMethods = ['GET', 'HEAD'] as const;

/** A liveness probe for operators and tests: it says the HTTP layer answers, nothing more. */
export function registerHealthRoutes(app: FastifyInstance): void {
  app.get(healthPath, async (_request, reply) => sendJson(reply, 200, { status: 'ok' }));
}
