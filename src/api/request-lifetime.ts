/**
 * Two things a request's lifetime needs beyond its handler: a bound on the time until the
 * handler starts (a client that stalls while sending its body), and a signal that fires when the
 * client goes away before it was answered (a waiter to remove, a grant to give back).
 *
 * fastify's own handlerTimeout is not used: it is one bound per route, fixed at start-up, while a
 * waiting acquire needs wait + requestTimeoutMs, known only once its parameters are read; and an
 * event stream has no end at all. Handlers bound their own service calls instead.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { LockdError } from '../errors.js';
import { requestLifetimeMs } from './limits.js';
import { sendError } from './reply.js';

export function requestLifetimeError(lifetimeMs: number): LockdError {
  return new LockdError('LOCKD_ERR_TIMEOUT', `Request not completed within ${lifetimeMs} ms`);
}

/**
 * Answers 503 LOCKD_ERR_TIMEOUT to a request whose handler has not started within
 * requestLifetimeMs. Once the answer is sent, fastify runs neither the later hooks nor the
 * handler, even when the rest of the body arrives.
 */
export function boundTimeToHandler(app: FastifyInstance, requestTimeoutMs: number): void {
  const lifetimeMs = requestLifetimeMs(requestTimeoutMs);
  const timers = new WeakMap<FastifyReply, NodeJS.Timeout>();
  const clear = (reply: FastifyReply): void => {
    clearTimeout(timers.get(reply));
    timers.delete(reply);
  };
  app.addHook('onRequest', async (request, reply) => {
    const timer = setTimeout(() => {
      timers.delete(reply);
      if (reply.sent) return;
      const error = requestLifetimeError(lifetimeMs);
      request.log.warn({ err: error }, error.message);
      sendError(reply, error);
    }, lifetimeMs);
    timers.set(reply, timer);
    reply.raw.once('close', () => clear(reply));
  });
  app.addHook('preHandler', async (_request, reply) => clear(reply));
  app.addHook('onResponse', async (_request, reply) => clear(reply));
}

export interface ClientPresence {
  /** Fires when the client went away before its answer was written, or when `abandon` is called. */
  readonly signal: AbortSignal;
  /** The answer will never be written (the request timed out): the service may let go too. */
  abandon(reason: unknown): void;
}

/**
 * Watches the connection of `reply`. A response that closes before it was ended means the client
 * went away (Node emits 'close' on the response either way; writableEnded tells them apart).
 */
export function watchClientPresence(reply: FastifyReply): ClientPresence {
  const controller = new AbortController();
  const response = reply.raw;
  if (response.destroyed && !response.writableEnded) {
    controller.abort(new Error('the client went away'));
  } else {
    response.once('close', () => {
      if (!response.writableEnded) controller.abort(new Error('the client went away'));
    });
  }
  return {
    signal: controller.signal,
    abandon: (reason) => controller.abort(reason),
  };
}
