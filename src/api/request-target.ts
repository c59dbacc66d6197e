/**
 * Reading the raw request target (request.raw.url), before any decoding by fastify's router.
 * Lock names are defined on the raw bytes, so the router's decoded parameters are never used.
 */
import { parseLockName } from './names.js';

export const lockPathPrefix = '/lock/';

/**
 * Which of the per-lock routes a path names: `/lock/:name` itself, `/lock/:name/refresh` or
 * `/lock/:name/events`.
 */
export type LockResource = 'lock' | 'refresh' | 'events';

/** What a raw request target says about the per-lock routes. */
export type LockTarget =
  /** Not a path of a lock route: an empty name, a name containing `/`, another sub-path. */
  | { readonly kind: 'not-a-lock-path' }
  | { readonly kind: 'bad-name'; readonly message: string; readonly resource: LockResource }
  | { readonly kind: 'name'; readonly name: string; readonly resource: LockResource };

// A Map, not an object: a path like `/lock/a/constructor` must not find Object's prototype.
const subResources: ReadonlyMap<string, LockResource> = new Map([
  ['refresh', 'refresh'],
  ['events', 'events'],
]);

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

/** The name segment and the resource of a lock path, or undefined when it is not one. */
function splitLockPath(
  path: string,
): { readonly rawSegment: string; readonly resource: LockResource } | undefined {
  const rest = path.slice(lockPathPrefix.length);
  const slash = rest.indexOf('/');
  if (slash === -1) return { rawSegment: rest, resource: 'lock' };
  const resource = subResources.get(rest.slice(slash + 1));
  if (resource === undefined) return undefined;
  return { rawSegment: rest.slice(0, slash), resource };
}

/** Resolves a raw request target against the lock routes `/lock/:name[/refresh|/events]`. */
export function resolveLockTarget(rawUrl: string): LockTarget {
  const path = requestPath(rawUrl);
  if (path === undefined || !path.startsWith(lockPathPrefix)) return { kind: 'not-a-lock-path' };
  const split = splitLockPath(path);
  if (split === undefined || split.rawSegment === '') return { kind: 'not-a-lock-path' };
  const { rawSegment, resource } = split;
  const parsed = parseLockName(rawSegment);
  switch (parsed.kind) {
    case 'route-mismatch':
      return { kind: 'not-a-lock-path' };
    case 'invalid':
      return { kind: 'bad-name', message: parsed.message, resource };
    case 'valid':
      return { kind: 'name', name: parsed.name, resource };
  }
}
