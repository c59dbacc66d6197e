/**
 * Two things a request's lifetime needs beyond its handler: a bound on the time until the
 * handler starts (a client that stalls while sending its body), and a signal that fires when the
 * client goes away before it was answered (a waiter to remove, a grant to give back).
 *
 * fastify's own handlerTimeout is not used: it is one bound per route, fixed at start-up, while a
 * waiting acquire needs wait + requestTimeoutMs, known only once its parameters are read; and an
 * event stream has no end at all. Handlers bound their own service calls instead.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LockdError } from '../errors.js';
import { Cancellation, type CancelSignal } from '../util/cancellation.js';
import { requestLifetimeMs } from './limits.js';
import { sendError } from './reply.js';

export function requestLifetimeError(lifetimeMs: number): LockdError {
  return new LockdError('LOCKD_ERR_TIMEOUT', `Request not completed within ${lifetimeMs} ms`);
}

/**
 * Whether the request announces a body. One without (most lock calls: the parameters are in the
 * query) reaches its handler in the same turn as its headers, so it needs no timer.
 */
function announcesBody(request: FastifyRequest): boolean {
  const { headers } = request;
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}

/**
 * Answers 503 LOCKD_ERR_TIMEOUT to a request whose handler has not started within
 * requestLifetimeMs. Once the answer is sent, fastify runs neither the later hooks nor the
 * handler, even when the rest of the body arrives. The hooks take callbacks, not promises: they
 * run for every request, and an async hook costs a promise and a turn of the microtask queue.
 */
export function boundTimeToHandler(app: FastifyInstance, requestTimeoutMs: number): void {
  const lifetimeMs = requestLifetimeMs(requestTimeoutMs);
  const timers = new WeakMap<FastifyReply, NodeJS.Timeout>();
  const clear = (reply: FastifyReply): void => {
    const timer = timers.get(reply);
    if (timer === undefined) return;
    clearTimeout(timer);
    timers.delete(reply);
  };
  app.addHook('onRequest', (request, reply, done) => {
    if (!announcesBody(request)) {
      done();
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(reply);
      if (reply.sent) return;
      const error = requestLifetimeError(lifetimeMs);
      request.log.warn({ err: error }, error.message);
      sendError(reply, error);
    }, lifetimeMs);
    timers.set(reply, timer);
    reply.raw.once('close', () => clear(reply));
    done();
  });
  app.addHook('preHandler', (_request, reply, done) => {
    clear(reply);
    done();
  });
  app.addHook('onResponse', (_request, reply, done) => {
    clear(reply);
    done();
  });
}

export interface ClientPresence {
  /** Fires when the client went away before its answer was written, or when `abandon` is called. */
  readonly signal: CancelSignal;
  /** The answer will never be written (the request timed out): the service may let go too. */
  abandon(): void;
}

/**
 * Watches the connection of `reply`. A response that closes before it was ended means the client
 * went away (Node emits 'close' on the response either way; writableEnded tells them apart).
 */
export function watchClientPresence(reply: FastifyReply): ClientPresence {
  const cancellation = new Cancellation();
  const response = reply.raw;
  if (response.destroyed && !response.writableEnded) {
    cancellation.abort();
  } else {
    response.once('close', () => {
      if (!response.writableEnded) cancellation.abort();
    });
  }
  return { signal: cancellation.signal, abandon: () => cancellation.abort() };
}
