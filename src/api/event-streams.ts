/**
 * Server-Sent Events of lock changes. Each stream is a subscription to the service: first the
 * retained events after the client's Last-Event-ID (or a `gap` event when some were dropped),
 * then live events, each as
 *
 *     id: <id>\nevent: <type>\ndata: <LockEvent as JSON>\n\n
 *
 * and a `: keepalive` comment at a fixed interval. Streams are bounded in number and in the bytes
 * each may buffer for a slow client; they end when the client goes or the server closes.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyReply } from 'fastify';
import { LockdError } from '../errors.js';
import { assert } from '../util/assert.js';
import { encodeJson } from './json.js';
import type { EventStreamLimits } from './limits.js';
import type { EventFilter, EventSubscription, LockEvent, LockService } from './lock-service.js';
import { isEventId } from './parameters.js';
import { lockEventJson } from './views.js';

export const eventStreamContentType = 'text/event-stream';

/** The wire form of one event (the JSON is one line: encodeJson escapes every line break). */
export function formatEvent(event: LockEvent): string {
  assert(isEventId(event.id), `bad event id ${JSON.stringify(event.id)}`);
  const data = encodeJson(lockEventJson(event)).slice(0, -1);
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${data}\n\n`;
}

export function gapMessage(lastEventId: string): string {
  return `Events after ${lastEventId} are no longer retained: some were lost; re-read the state of the locks`;
}

export function formatGap(lastEventId: string): string {
  const data = encodeJson({ error: gapMessage(lastEventId) }).slice(0, -1);
  return `event: gap\ndata: ${data}\n\n`;
}

export const keepAliveComment = ': keepalive\n\n';

/** Orders event ids `<raftIndex>-<n>` as the events happened. */
export function compareEventIds(left: string, right: string): number {
  const [leftIndex = 0, leftN = 0] = left.split('-').map(Number);
  const [rightIndex = 0, rightN = 0] = right.split('-').map(Number);
  return leftIndex !== rightIndex ? leftIndex - rightIndex : leftN - rightN;
}

/** Events reported while subscribe() runs, before the replay is written: a handful at most. */
const maxEarlyEvents = 1_000;

export interface StreamRequest {
  readonly filter: EventFilter;
  readonly lastEventId: string | null;
}

/** One open stream. It writes straight to the response, which fastify no longer manages. */
class EventStream {
  private readonly response: ServerResponse;
  private readonly limits: EventStreamLimits;
  private readonly log: FastifyBaseLogger;
  /** Events that arrived before the replay was written: subscribe may report one at once. */
  private early: LockEvent[] | undefined = [];
  private subscription: EventSubscription | undefined;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  /** The id of the last event written: events are written once each, in order. */
  private lastWrittenId: string | null;
  private closed = false;
  /** Whether the response was handed to this stream: from then on a fault ends the stream. */
  private started = false;
  private failure: unknown;
  onClosed: () => void = () => {};

  constructor(
    response: ServerResponse,
    limits: EventStreamLimits,
    log: FastifyBaseLogger,
    lastEventId: string | null,
  ) {
    this.response = response;
    this.limits = limits;
    this.log = log;
    this.lastWrittenId = lastEventId;
  }

  /** Subscribes; throws (before anything is written) when the service refuses. */
  subscribe(service: LockService, request: StreamRequest): void {
    this.subscription = service.subscribe(request.filter, request.lastEventId, (event) => {
      // This runs inside the node's apply loop: a fault of this stream must end this stream,
      // not the loop that serves every other client.
      try {
        if (this.early !== undefined) {
          assert(this.early.length < maxEarlyEvents, 'events reported during subscribe never end');
          this.early.push(event);
        } else {
          this.writeEvent(event);
        }
      } catch (error) {
        this.fail(error);
      }
    });
    if (this.failure !== undefined) {
      this.subscription.unsubscribe();
      throw this.failure;
    }
  }

  /** Before start() the failure is thrown by subscribe (answered 500); after, the stream ends. */
  private fail(error: unknown): void {
    if (!this.started) {
      this.failure ??= error;
      return;
    }
    this.log.error({ err: error }, 'event stream failed; ending it');
    this.end();
  }

  /** Writes the head, the replay (or the gap) and the events that came meanwhile; then live. */
  start(lastEventId: string | null): void {
    const subscription = this.subscription;
    assert(subscription !== undefined, 'stream started before it subscribed');
    this.response.writeHead(200, {
      'Content-Type': eventStreamContentType,
      'Cache-Control': 'no-cache',
      // A stream ends only when one side leaves; the connection is not reused after it, so that
      // the server can close without waiting for idle keep-alive connections.
      Connection: 'close',
      'X-Accel-Buffering': 'no',
    });
    this.response.flushHeaders();
    this.started = true;
    this.response.once('close', () => this.close());
    // The client may have gone while the request was handled: then 'close' was already emitted.
    if (this.response.destroyed) {
      this.close();
      return;
    }
    try {
      this.writeBacklog(subscription, lastEventId);
    } catch (error) {
      this.fail(error);
      return;
    }
    this.keepAliveTimer = setInterval(
      () => this.write(keepAliveComment),
      this.limits.keepAliveIntervalMs,
    );
  }

  /** The replay (or the gap), then the events reported while subscribe ran. */
  private writeBacklog(subscription: EventSubscription, lastEventId: string | null): void {
    if (subscription.replay === 'gap') {
      assert(lastEventId !== null, 'a gap reported for a stream that resumes nothing');
      this.write(formatGap(lastEventId));
    } else {
      for (const event of subscription.replay) this.writeEvent(event);
    }
    const early = this.early ?? [];
    this.early = undefined;
    for (const event of early) this.writeEvent(event);
  }

  /**
   * An event reported both in the replay and live (it happened while subscribe ran) is written
   * once: whatever is not after the last written id was already sent.
   */
  private writeEvent(event: LockEvent): void {
    if (this.lastWrittenId !== null && compareEventIds(event.id, this.lastWrittenId) <= 0) return;
    this.write(formatEvent(event));
    this.lastWrittenId = event.id;
  }

  private write(chunk: string): void {
    if (this.closed) return;
    if (this.response.writableLength > this.limits.maxBufferedBytes) {
      // The client reads slower than events come: it resumes with Last-Event-ID when it can.
      this.log.info({ bufferedBytes: this.response.writableLength }, 'event stream too slow');
      this.end();
      return;
    }
    this.response.write(chunk);
  }

  end(): void {
    if (!this.response.writableEnded) this.response.end();
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepAliveTimer);
    this.subscription?.unsubscribe();
    this.onClosed();
  }
}

/** Every open stream of a server, so that they are bounded in number and ended on close. */
export class EventStreams {
  private readonly open = new Set<EventStream>();
  private readonly limits: EventStreamLimits;
  private closing = false;

  constructor(limits: EventStreamLimits) {
    assert(Number.isInteger(limits.maxStreams) && limits.maxStreams > 0, 'bad maxStreams');
    assert(limits.keepAliveIntervalMs > 0, 'bad keepAliveIntervalMs');
    assert(limits.maxBufferedBytes > 0, 'bad maxBufferedBytes');
    this.limits = limits;
  }

  get size(): number {
    return this.open.size;
  }

  /**
   * Answers `reply` with a stream for `request`, or throws a LockdError (nothing written yet):
   * LOCKD_ERR_LIMIT_REACHED when maxStreams are open, whatever subscribe throws.
   */
  serve(service: LockService, request: StreamRequest, reply: FastifyReply): void {
    if (this.closing) {
      throw new LockdError('LOCKD_ERR_SHUTTING_DOWN', 'Server is shutting down');
    }
    if (this.open.size >= this.limits.maxStreams) {
      throw new LockdError(
        'LOCKD_ERR_LIMIT_REACHED',
        `Too many event streams (max ${this.limits.maxStreams})`,
      );
    }
    const stream = new EventStream(reply.raw, this.limits, reply.log, request.lastEventId);
    stream.subscribe(service, request);
    this.open.add(stream);
    stream.onClosed = () => this.open.delete(stream);
    // From here on the response is written by the stream, not by fastify.
    reply.hijack();
    stream.start(request.lastEventId);
  }

  /** Ends every stream (the server is closing); new ones are refused from now on. */
  endAll(): void {
    this.closing = true;
    for (const stream of [...this.open]) stream.end();
    assert(this.open.size === 0, 'an event stream outlived endAll');
  }
}
