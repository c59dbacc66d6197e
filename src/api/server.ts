/**
 * lockd's HTTP API on fastify. buildServer wires the routes, the body parsers and every error
 * path to the JSON contract of the seed (DESIGN.md §5) and its extensions; it does not listen.
 */
import { maxHeaderSize } from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { assert } from '../util/assert.js';
import { answerClientError } from './client-errors.js';
import { EventStreams } from './event-streams.js';
import { bodyLimitBytes, defaultEventStreamLimits, type EventStreamLimits } from './limits.js';
import type { LockService } from './lock-service.js';
import { internalError, sendError } from './reply.js';
import { boundTimeToHandler } from './request-lifetime.js';
import { type ClusterRoutesOptions, registerClusterRoutes } from './routes/cluster.js';
import { registerEventRoutes } from './routes/events.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerListRoute } from './routes/list.js';
import { registerLockRoutes } from './routes/locks.js';
import { answerFrameworkError, answerUnrouted } from './routes/unrouted.js';
import { lockdErrorFor } from './thrown-errors.js';
import { AnswerNotWantedError } from './timeout.js';

export interface ApiServerOptions {
  readonly service: LockService;
  /** Server-side bound on every request: past it → 503 LOCKD_ERR_TIMEOUT with Retry-After. */
  readonly requestTimeoutMs: number;
  /** Options for fastify's own pino logger, or the process's logger to share. */
  readonly logger: boolean | { level: string } | FastifyBaseLogger;
  /** The cluster routes (`/cluster`, `/cluster/members`); absent = not served. */
  readonly cluster?: ClusterRoutesOptions;
  /** The largest request body (default bodyLimitBytes, 64 KiB). */
  readonly maxBodyBytes?: number;
  /** Bounds on Server-Sent Event streams; each defaults to defaultEventStreamLimits. */
  readonly eventStreams?: Partial<EventStreamLimits>;
}

/**
 * A JSON body carries parameters (see parameters.ts); bodies of other types are read within the
 * body limit and ignored, as the seed ignored every body. An empty body counts as no body
 * whatever its type. A JSON body must parse (else 400): one that does not must not be taken as
 * none, or its parameters would be silently dropped.
 */
function registerBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.length === 0) {
      done(null, undefined);
      return;
    }
    parseJson(request, text, done);
  });
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => {
    done(null, undefined);
  });
}

function isDebugEnabled(logger: FastifyBaseLogger): boolean {
  const levels: Readonly<Record<string, number>> = { trace: 10, debug: 20 };
  return levels[logger.level] !== undefined;
}

function loggerOptions(
  logger: ApiServerOptions['logger'],
): { logger: boolean | { level: string } } | { loggerInstance: FastifyBaseLogger } {
  if (typeof logger === 'object' && 'child' in logger) return { loggerInstance: logger };
  return { logger };
}

export function buildServer(options: ApiServerOptions): FastifyInstance {
  const { requestTimeoutMs } = options;
  assert(
    Number.isInteger(requestTimeoutMs) && requestTimeoutMs > 0,
    `requestTimeoutMs must be a positive integer, got ${requestTimeoutMs}`,
  );
  const maxBodyBytes = options.maxBodyBytes ?? bodyLimitBytes;
  const app = Fastify({
    ...loggerOptions(options.logger),
    bodyLimit: maxBodyBytes,
    // Open keep-alive connections (and aborted fetches that never send a request) must not hold
    // up a graceful stop: close() ends them once requests in flight are answered.
    forceCloseConnections: true,
    // A log line per request costs more than the request itself under load: they are written only
    // when the operator asks for debug logs. Errors are always logged.
    logController: new LogController({
      disableRequestLogging: (request) => !isDebugEnabled(request.log),
    }),
    // The request line is already bounded by Node's header size limit; with the same bound here
    // the router never refuses a long lock name that reached it, and the name check reports it.
    routerOptions: { maxParamLength: maxHeaderSize },
    frameworkErrors: answerFrameworkError,
    clientErrorHandler: answerClientError,
  });
  registerBodyParsers(app);
  app.setErrorHandler((error, request, reply) => {
    if (error instanceof AnswerNotWantedError) {
      // The client went away before its answer: there is no one to send one to, and its
      // connection is closed already. The request ends here, with nothing to log.
      reply.hijack();
      reply.raw.destroy();
      return reply;
    }
    const lockdError = lockdErrorFor(error, maxBodyBytes);
    if (lockdError === undefined) {
      request.log.error({ err: error }, 'unexpected error while handling a request');
      return sendError(reply, internalError());
    }
    if (lockdError.status >= 500) request.log.warn({ err: error }, lockdError.message);
    return sendError(reply, lockdError);
  });
  app.setNotFoundHandler(answerUnrouted);
  boundTimeToHandler(app, requestTimeoutMs);
  const streams = new EventStreams({ ...defaultEventStreamLimits, ...options.eventStreams });
  // Open streams never end by themselves: without this, close() would wait for every client.
  app.addHook('preClose', async () => streams.endAll());
  const { service } = options;
  registerHealthRoutes(app);
  registerLockRoutes(app, { service, requestTimeoutMs });
  registerListRoute(app, { service, requestTimeoutMs });
  registerEventRoutes(app, { service, streams });
  if (options.cluster !== undefined) registerClusterRoutes(app, options.cluster);
  return app;
}
