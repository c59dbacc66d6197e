/**
 * The HTTP/1.1 client every HTTP target of the benchmark is driven with: one raw TCP connection
 * per worker, kept alive, one request in flight at a time, like one client connection.
 *
 * It replaces node:http's request and Agent, which cost the generator some 70-110 µs of CPU per
 * request on a 2-core machine shared with the servers it measures, and so capped every HTTP
 * target. A request is one socket write of a string; a response is parsed from the socket's
 * chunks by ResponseParser (http-parser.ts) with no stream or event machinery per request.
 */
import { connect, type Socket } from 'node:net';
import { ResponseParser } from './http-parser.js';

export interface HttpReply {
  readonly status: number;
  /** The body as text, or '' when the caller asked not to read it. */
  readonly body: string;
}

export interface HttpRequest {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** The request target: an absolute path with an optional query, printable ASCII only. */
  readonly path: string;
  /** A JSON body; absent for none. */
  readonly json?: string;
  /** False to discard the body unread (cheaper for the generator when only the status counts). */
  readonly readBody: boolean;
  readonly timeoutMs: number;
}

/** One worker's connection to one server. */
export interface WorkerConnection {
  /**
   * Sends one request and resolves with its response. Rejects on a timeout, a socket error, the
   * connection closing before the response is complete, a malformed or oversized response, or a
   * second request while one is in flight. After a failure the next request reconnects.
   */
  send(request: HttpRequest): Promise<HttpReply>;
  /** Closes the connection; a request in flight is rejected and later ones are refused. */
  close(): void;
}

/** A space, CR or LF in the target would split the request line or inject a header. */
const requestTargetPattern = /^\/[\x21-\x7e]*$/;

interface InFlight {
  readonly socket: Socket;
  readonly parser: ResponseParser;
  readonly timer: NodeJS.Timeout;
  readonly resolve: (reply: HttpReply) => void;
  readonly reject: (error: Error) => void;
}

/** A connection to `host:port`; the TCP connection is opened by the first request. */
export function createWorkerConnection(port: number, host = '127.0.0.1'): WorkerConnection {
  if (!(Number.isInteger(port) && port > 0 && port < 65536))
    throw new Error(`port must be a whole number in 1..65535, got ${port}`);
  return new RawHttpConnection(port, host);
}

/** The request's bytes, as one string for one socket write. */
export function encodeRequest(request: HttpRequest, hostHeader: string): string {
  const head = `${request.method} ${request.path} HTTP/1.1\r\nHost: ${hostHeader}\r\n`;
  if (request.json === undefined) return `${head}\r\n`;
  const length = Buffer.byteLength(request.json);
  return `${head}content-type: application/json\r\ncontent-length: ${length}\r\n\r\n${request.json}`;
}

class RawHttpConnection implements WorkerConnection {
  /** The open (or opening) socket; undefined until the first request and after it is lost. */
  private socket: Socket | undefined;
  /** The one request awaiting its response, with the socket it was written to. */
  private inFlight: InFlight | undefined;
  private closed = false;
  private readonly hostHeader: string;

  constructor(
    private readonly port: number,
    private readonly host: string,
  ) {
    this.hostHeader = `${host}:${port}`;
  }

  send(request: HttpRequest): Promise<HttpReply> {
    if (this.closed) return Promise.reject(new Error('the connection was closed by its owner'));
    if (this.inFlight !== undefined)
      return Promise.reject(new Error('a request is already in flight on this connection'));
    if (!requestTargetPattern.test(request.path))
      return Promise.reject(new Error(`bad request target ${JSON.stringify(request.path)}`));
    const socket = this.socket ?? this.open();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.fail(socket, new Error(`no answer within ${request.timeoutMs} ms`)),
        request.timeoutMs,
      );
      this.inFlight = {
        socket,
        parser: new ResponseParser(request.readBody),
        timer,
        resolve,
        reject,
      };
      // Before 'connect' the socket queues the write, so a lazy reconnect needs no extra wait.
      socket.write(encodeRequest(request, this.hostHeader));
    });
  }

  close(): void {
    this.closed = true;
    if (this.socket !== undefined)
      this.fail(this.socket, new Error('the connection was closed by its owner'));
  }

  private open(): Socket {
    const socket = connect({ port: this.port, host: this.host });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
    socket.on('error', (error) => this.fail(socket, error));
    socket.on('close', () => this.onClose(socket));
    this.socket = socket;
    return socket;
  }

  private onData(socket: Socket, chunk: Buffer): void {
    const inFlight = this.inFlight;
    if (inFlight === undefined || inFlight.socket !== socket) {
      this.fail(socket, new Error('the server sent bytes with no request in flight'));
      return;
    }
    let response: ReturnType<ResponseParser['push']>;
    try {
      response = inFlight.parser.push(chunk);
    } catch (error) {
      this.fail(socket, error as Error);
      return;
    }
    if (response === undefined) return;
    // A server that said `connection: close` is done with this socket: the next request
    // opens a new one instead of writing into a connection about to close.
    if (!response.keepAlive) this.discard(socket);
    this.settle(inFlight);
    inFlight.resolve({ status: response.status, body: response.body });
  }

  private onClose(socket: Socket): void {
    if (this.socket === socket) this.socket = undefined;
    const inFlight = this.inFlight;
    if (inFlight === undefined || inFlight.socket !== socket) return;
    this.settle(inFlight);
    // A body framed by the close itself is complete now; any other response is cut short.
    const response = inFlight.parser.finish();
    if (response === undefined)
      inFlight.reject(new Error('the connection closed before the response was complete'));
    else inFlight.resolve({ status: response.status, body: response.body });
  }

  /** Rejects the request in flight on `socket`, if any, and drops the socket. */
  private fail(socket: Socket, error: Error): void {
    this.discard(socket);
    const inFlight = this.inFlight;
    if (inFlight === undefined || inFlight.socket !== socket) return;
    this.settle(inFlight);
    inFlight.reject(error);
  }

  private discard(socket: Socket): void {
    if (this.socket === socket) this.socket = undefined;
    socket.destroy();
  }

  private settle(inFlight: InFlight): void {
    clearTimeout(inFlight.timer);
    if (this.inFlight === inFlight) this.inFlight = undefined;
  }
}
