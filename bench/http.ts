/**
 * One HTTP/1.1 request over a keep-alive agent, the way every HTTP target of the benchmark is
 * driven. Each worker has its own agent with one socket, like one client connection.
 */
import { Agent, request } from 'node:http';

export interface HttpReply {
  readonly status: number;
  /** The body as text, or '' when the caller asked not to read it. */
  readonly body: string;
}

export interface HttpRequest {
  readonly agent: Agent;
  readonly port: number;
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  /** A JSON body; absent for none. */
  readonly json?: string;
  /** False to discard the body unread (cheaper for the generator when only the status counts). */
  readonly readBody: boolean;
  readonly timeoutMs: number;
}

const bodyBytesMax = 1024 * 1024;

export function createWorkerAgent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: 1 });
}

export function sendRequest(options: HttpRequest): Promise<HttpReply> {
  return new Promise((resolveReply, rejectReply) => {
    const headers: Record<string, string> = {};
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(options.json));
    }
    const outgoing = request(
      {
        host: '127.0.0.1',
        port: options.port,
        method: options.method,
        path: options.path,
        agent: options.agent,
        headers,
      },
      (response) => {
        const status = response.statusCode ?? 0;
        if (!options.readBody) {
          response.resume();
          response.once('end', () => resolveReply({ status, body: '' }));
          return;
        }
        const chunks: Buffer[] = [];
        let bodyBytes = 0;
        response.on('data', (chunk: Buffer) => {
          bodyBytes += chunk.length;
          if (bodyBytes > bodyBytesMax) {
            response.destroy(new Error(`response body over ${bodyBytesMax} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        response.once('error', rejectReply);
        response.once('end', () =>
          resolveReply({ status, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    outgoing.setTimeout(options.timeoutMs, () =>
      outgoing.destroy(new Error(`no answer within ${options.timeoutMs} ms`)),
    );
    outgoing.once('error', rejectReply);
    outgoing.end(options.json);
  });
}
