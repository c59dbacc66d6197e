/**
 * lockd's HTTP API on fastify. buildServer wires the routes, the body parsers and every error
 * path to the JSON contract of the seed (DESIGN.md §5); it does not listen.
 */
import { maxHeaderSize } from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { assert } from '../util/assert.js';
import { answerClientError } from './client-errors.js';
import { bodyLimitBytes, requestLifetimeMs } from './limits.js';
import type { LockService } from './lock-service.js';
import { internalError, sendError } from './reply.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerLockRoutes } from './routes/locks.js';
import { answerFrameworkError, answerUnrouted } from './routes/unrouted.js';
import { lockdErrorFor } from './thrown-errors.js';

export interface ApiServerOptions {
  readonly service: LockService;
  /** Server-side bound on every request: past it → 503 LOCKD_ERR_TIMEOUT with Retry-After. */
  readonly requestTimeoutMs: number;
  /** Options for fastify's own pino logger, or the process's logger to share. */
  readonly logger: boolean | { level: string } | FastifyBaseLogger;
}

/**
 * Bodies are ignored for now, but read within the body limit so that a client may send one.
 * An empty body counts as no body whatever its type. A JSON body must parse (else 400): the
 * extensions will read options from it, and one that does not parse must not be taken as none.
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
  const app = Fastify({
    ...loggerOptions(options.logger),
    bodyLimit: bodyLimitBytes,
    // A log line per request costs more than the request itself under load: they are written only
    // when the operator asks for debug logs. Errors are always logged.
    logController: new LogController({
      disableRequestLogging: (request) => !isDebugEnabled(request.log),
    }),
    handlerTimeout: requestLifetimeMs(requestTimeoutMs),
    // The request line is already bounded by Node's header size limit; with the same bound here
    // the router never refuses a long lock name that reached it, and the name check reports it.
    routerOptions: { maxParamLength: maxHeaderSize },
    frameworkErrors: answerFrameworkError,
    clientErrorHandler: answerClientError,
  });
  registerBodyParsers(app);
  app.setErrorHandler((error, request, reply) => {
    const lockdError = lockdErrorFor(error, requestTimeoutMs);
    if (lockdError === undefined) {
      request.log.error({ err: error }, 'unexpected error while handling a request');
      return sendError(reply, internalError());
    }
    if (lockdError.status >= 500) request.log.warn({ err: error }, lockdError.message);
    return sendError(reply, lockdError);
  });
  app.setNotFoundHandler(answerUnrouted);
  registerHealthRoutes(app);
  registerLockRoutes(app, { service: options.service, requestTimeoutMs });
  return app;
}
