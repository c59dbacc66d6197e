/**
 * watch(): lock events over Server-Sent Events, read with fetch's streaming body. When a stream
 * ends or breaks, or stays silent past idleTimeoutMs (the server sends a keepalive comment every
 * 15 s), it is reopened through the transport (so on another endpoint if need be) with
 * `Last-Event-ID` set to the last event seen, and the server replays what was missed. A `gap`
 * event (those events are no longer retained) ends the iteration with EventsLostError.
 */
import type { LockEvent } from '../api/lock-service.js';
import { errorOf } from './answers.js';
import {
  AbortedError,
  ConnectionError,
  EventsLostError,
  InvalidResponseError,
  type LockdClientError,
  UnavailableError,
} from './errors.js';
import { type SseMessage, SseParser } from './sse.js';
import type { Transport, TransportResponse } from './transport.js';
import { decodeErrorBody, decodeEvent, parseJsonBody } from './wire.js';

export interface WatchRequest {
  readonly transport: Transport;
  readonly path: string;
  readonly prefix: string;
  readonly lastEventId: string | null;
  readonly idleTimeoutMs: number;
  /** Streams in a row that may end without a byte before the watch gives up. */
  readonly maxQuietStreams: number;
  readonly signal: AbortSignal | undefined;
}

// A function, so that TypeScript does not narrow `aborted` across awaits that may change it.
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

/** A stream that stayed silent too long: a dead connection, to be reopened. */
class IdleStreamError extends ConnectionError {}

/** Reads one chunk, or throws IdleStreamError when none comes within `idleTimeoutMs`. */
async function readChunk(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  idleTimeoutMs: number,
  endpoint: string,
): Promise<Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>>> {
  let timer: NodeJS.Timeout | undefined;
  const idle = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new IdleStreamError(endpoint, `silent for ${idleTimeoutMs} ms`)),
      idleTimeoutMs,
    );
  });
  try {
    return await Promise.race([reader.read(), idle]);
  } finally {
    clearTimeout(timer);
  }
}

/** The messages of one open stream, until it ends; `heard` is called on every chunk. */
async function* streamMessages(
  response: TransportResponse,
  idleTimeoutMs: number,
  heard: () => void,
): AsyncGenerator<SseMessage> {
  const body = response.body;
  if (body === null) throw new InvalidResponseError('event stream without a body');
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  try {
    // Each turn reads one chunk; the stream's end (or the idle time-out) ends the loop.
    for (;;) {
      const chunk = await readChunk(reader, idleTimeoutMs, `stream ${response.endpointIndex}`);
      if (chunk.done) return;
      heard();
      yield* parser.feed(decoder.decode(chunk.value, { stream: true }));
    }
  } finally {
    response.cancel();
    reader.releaseLock();
  }
}

function gapError(message: SseMessage, lastEventId: string | null): EventsLostError {
  let text = 'Events were lost: re-read the state of the locks';
  try {
    text = decodeErrorBody(parseJsonBody(message.data, 'gap')).message;
  } catch {
    // The default says the same.
  }
  return new EventsLostError(lastEventId, text);
}

async function openStream(
  request: WatchRequest,
  lastEventId: string | null,
): Promise<TransportResponse> {
  const response = await request.transport.request({
    method: 'GET',
    path: request.path,
    query: { prefix: request.prefix === '' ? undefined : request.prefix },
    headers: lastEventId === null ? {} : { 'Last-Event-ID': lastEventId },
    stream: true,
    ...(request.signal === undefined ? {} : { signal: request.signal }),
  });
  if (response.status !== 200) throw errorOf(response);
  const type = response.headers.get('content-type') ?? '';
  if (!type.startsWith('text/event-stream')) {
    response.cancel();
    throw new InvalidResponseError(`event stream answered with content type ${type}`);
  }
  return response;
}

export async function* watchEvents(request: WatchRequest): AsyncGenerator<LockEvent> {
  let lastEventId = request.lastEventId;
  const quietStreams: LockdClientError[] = [];
  // Bounded: a stream that brings nothing counts, and maxQuietStreams of them in a row end it.
  while (!isAborted(request.signal)) {
    let response: TransportResponse;
    try {
      response = await openStream(request, lastEventId);
    } catch (error) {
      if (error instanceof AbortedError && isAborted(request.signal)) return;
      throw error;
    }
    let heard = false;
    let ending: LockdClientError = new ConnectionError('stream', 'the stream ended');
    try {
      for await (const message of streamMessages(response, request.idleTimeoutMs, () => {
        heard = true;
      })) {
        if (message.type === 'gap') throw gapError(message, lastEventId);
        const event = decodeEvent(parseJsonBody(message.data, 'event'));
        lastEventId = message.lastEventId === '' ? event.id : message.lastEventId;
        yield event;
      }
    } catch (error) {
      if (error instanceof EventsLostError || error instanceof InvalidResponseError) throw error;
      if (isAborted(request.signal)) return;
      // The connection broke or went silent: reopen below.
      ending = error instanceof ConnectionError ? error : new ConnectionError('stream', error);
    }
    request.transport.streamEnded(response.endpointIndex);
    if (heard) quietStreams.length = 0;
    else quietStreams.push(ending);
    if (quietStreams.length >= request.maxQuietStreams) throw new UnavailableError(quietStreams);
  }
}
