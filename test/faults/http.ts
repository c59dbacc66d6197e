/**
 * One HTTP request of a fault run, bounded in time, that says what happened in the terms a history
 * needs: an answer, a refusal at connect (the request never reached lockd), or an error after
 * which the request may or may not have been served. A fresh connection per request: a pooled one
 * to a node killed since would fail in a way that hides whether the request went out.
 */
import { request } from 'node:http';

export type HttpResult =
  | {
      readonly type: 'answer';
      readonly status: number;
      readonly errorCode: string | undefined;
      readonly body: string;
    }
  | { readonly type: 'refused' }
  | { readonly type: 'error'; readonly reason: string };

export interface HttpRequest {
  readonly port: number;
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly timeoutMs: number;
}

/** Bodies we read at most: lockd's answers here are a few hundred bytes. */
const bodyBytesMax = 1024 * 1024;

export function httpRequest(options: HttpRequest): Promise<HttpResult> {
  return new Promise((resolveResult) => {
    let settled = false;
    const settle = (result: HttpResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolveResult(result);
    };
    const outgoing = request(
      {
        host: '127.0.0.1',
        port: options.port,
        method: options.method,
        path: options.path,
        agent: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        response.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > bodyBytesMax) outgoing.destroy(new Error('answer body too large'));
          else chunks.push(chunk);
        });
        response.on('end', () => {
          const code = response.headers['lockd-error-code'];
          settle({
            type: 'answer',
            status: response.statusCode ?? 0,
            errorCode: typeof code === 'string' ? code : undefined,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
        response.on('error', (error) => settle({ type: 'error', reason: error.message }));
      },
    );
    const timer = setTimeout(() => {
      settle({ type: 'error', reason: `no answer within ${options.timeoutMs} ms` });
      outgoing.destroy();
    }, options.timeoutMs);
    outgoing.on('error', (error: NodeJS.ErrnoException) =>
      settle(
        error.code === 'ECONNREFUSED'
          ? { type: 'refused' }
          : { type: 'error', reason: error.code ?? error.message },
      ),
    );
    outgoing.end();
  });
}

/** A JSON body as a record, or undefined when it is not a JSON object. */
export function parseJsonObject(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
