/**
 * Reading the raw request target (request.raw.url), before any decoding by fastify's router.
 * Lock names are defined on the raw bytes, so the router's decoded parameters are never used.
 */
import { parseLockName } from './names.js';

export const lockPathPrefix = '/lock/';

/** What a raw request target says about the lock route. */
export type LockTarget =
  /** Not a path of the lock route: an empty name, or a name containing `/` raw or decoded. */
  | { readonly kind: 'not-a-lock-path' }
  | { readonly kind: 'bad-name'; readonly message: string }
  | { readonly kind: 'name'; readonly name: string };

// An absolute-form target (`GET http://host/lock/foo HTTP/1.1`, as proxies send) starts with a
// scheme and an authority; the path is what follows them.
const absoluteFormPrefix = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;

/**
 * The path part of a raw request target: up to the first `?`, with the scheme and authority of an
 * absolute-form target removed. Undefined for targets with no path (`*`, or garbage).
 */
export function requestPath(rawUrl: string): string | undefined {
  const queryStart = rawUrl.indexOf('?');
  let path = queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart);
  if (!path.startsWith('/')) {
    const prefix = absoluteFormPrefix.exec(path);
    if (prefix === null) return undefined;
    path = path.slice(prefix[0].length);
    if (path === '') path = '/';
  }
  return path;
}

/** Resolves a raw request target against the lock route `/lock/:name`. */
export function resolveLockTarget(rawUrl: string): LockTarget {
  const path = requestPath(rawUrl);
  if (path === undefined || !path.startsWith(lockPathPrefix)) return { kind: 'not-a-lock-path' };
  const rawSegment = path.slice(lockPathPrefix.length);
  if (rawSegment === '' || rawSegment.includes('/')) return { kind: 'not-a-lock-path' };
  const parsed = parseLockName(rawSegment);
  switch (parsed.kind) {
    case 'route-mismatch':
      return { kind: 'not-a-lock-path' };
    case 'invalid':
      return { kind: 'bad-name', message: parsed.message };
    case 'valid':
      return { kind: 'name', name: parsed.name };
  }
}
