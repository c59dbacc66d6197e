/** Builders of lock commands for the state machine and codec tests, with readable defaults. */
import fc from 'fast-check';
import type {
  AcquireCommand,
  ExpireCommand,
  ExtendLeasesCommand,
  ForceReleaseCommand,
  GrantRequest,
  HandOff,
  LockCommand,
  LockMode,
  RefreshCommand,
  ReleaseCommand,
} from '../../src/locks/commands.js';

export const roomyLimits = { maxLocks: 1_000, maxHoldersPerLock: 100 } as const;

export interface AcquireOptions {
  readonly owner?: string | null;
  readonly ttlMs?: number | null;
  readonly mode?: LockMode;
  readonly limit?: number | null;
  readonly maxLocks?: number;
  readonly maxHoldersPerLock?: number;
  readonly waiterId?: number | null;
}

export function grantRequest(options: AcquireOptions = {}): GrantRequest {
  return {
    owner: options.owner ?? null,
    ttlMs: options.ttlMs ?? null,
    mode: options.mode ?? 'exclusive',
    limit: options.limit ?? null,
    maxLocks: options.maxLocks ?? roomyLimits.maxLocks,
    maxHoldersPerLock: options.maxHoldersPerLock ?? roomyLimits.maxHoldersPerLock,
  };
}

export function acquire(name: string, nowMs: number, options: AcquireOptions = {}): AcquireCommand {
  return {
    kind: 'acquire',
    nowMs,
    name,
    ...grantRequest(options),
    waiterId: options.waiterId ?? null,
  };
}

export function handOff(waiterId: number, options: AcquireOptions = {}): HandOff {
  return { waiterId, ...grantRequest(options) };
}

export function release(
  name: string,
  nowMs: number,
  options: { owner?: string | null; token?: number | null; handOff?: HandOff | null } = {},
): ReleaseCommand {
  return {
    kind: 'release',
    nowMs,
    name,
    owner: options.owner ?? null,
    token: options.token ?? null,
    handOff: options.handOff ?? null,
  };
}

export function forceRelease(
  name: string,
  nowMs: number,
  handOffTo: HandOff | null = null,
): ForceReleaseCommand {
  return { kind: 'force-release', nowMs, name, handOff: handOffTo };
}

export function refresh(
  name: string,
  nowMs: number,
  owner: string,
  ttlMs: number | null = null,
): RefreshCommand {
  return { kind: 'refresh', nowMs, name, owner, ttlMs };
}

export function expire(
  name: string,
  nowMs: number,
  token: number,
  handOffTo: HandOff | null = null,
): ExpireCommand {
  return { kind: 'expire', nowMs, name, token, handOff: handOffTo };
}

export function extendLeases(nowMs: number): ExtendLeasesCommand {
  return { kind: 'extend-leases', nowMs };
}

// ---- fast-check arbitraries -----------------------------------------------------------------

const byteCharacter = fc.integer({ min: 0, max: 0xff }).map((code) => String.fromCharCode(code));

/** Any name the codec carries: 1 to 128 one-byte characters. */
export const anyName = fc.string({
  unit: byteCharacter,
  minLength: 1,
  maxLength: 128,
  size: 'max',
});
const anyOwnerText = fc.string({ unit: byteCharacter, minLength: 1, maxLength: 40 });
const anyUint = fc.oneof(
  fc.integer({ min: 0, max: 300 }),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER - 1 }),
);
const anyPositive = anyUint.map((value) => Math.max(1, value));

function anyGrantRequest(owner: fc.Arbitrary<string>): fc.Arbitrary<GrantRequest> {
  return fc
    .record({
      owner: fc.option(owner, { nil: null }),
      ttlMs: fc.option(anyPositive, { nil: null }),
      shared: fc.boolean(),
      limit: fc.option(anyPositive, { nil: null }),
      maxLocks: anyPositive,
      maxHoldersPerLock: anyPositive,
    })
    .map(({ shared, owner: ownerValue, limit, ...rest }) => {
      const isShared = shared && ownerValue !== null;
      return {
        ...rest,
        owner: ownerValue,
        mode: isShared ? ('shared' as const) : ('exclusive' as const),
        limit: isShared ? limit : null,
      };
    });
}

/** Every kind of command with any field values the codec accepts. */
export function anyCommand(
  names: fc.Arbitrary<string> = anyName,
  owners: fc.Arbitrary<string> = anyOwnerText,
): fc.Arbitrary<LockCommand> {
  const anyHandOff = fc.option(
    fc.tuple(anyUint, anyGrantRequest(owners)).map(([waiterId, request]) => ({
      waiterId,
      ...request,
    })),
    { nil: null },
  );
  return fc.oneof(
    fc
      .tuple(anyUint, names, anyGrantRequest(owners), fc.option(anyUint, { nil: null }))
      .map(([nowMs, name, request, waiterId]) => ({
        kind: 'acquire' as const,
        nowMs,
        name,
        ...request,
        waiterId,
      })),
    fc
      .tuple(
        anyUint,
        names,
        fc.option(owners, { nil: null }),
        fc.option(anyPositive, { nil: null }),
        anyHandOff,
      )
      .map(([nowMs, name, owner, token, handOffTo]) =>
        release(name, nowMs, { owner, token, handOff: handOffTo }),
      ),
    fc
      .tuple(anyUint, names, anyHandOff)
      .map(([nowMs, name, handOffTo]) => forceRelease(name, nowMs, handOffTo)),
    fc
      .tuple(anyUint, names, owners, fc.option(anyPositive, { nil: null }))
      .map(([nowMs, name, owner, ttlMs]) => refresh(name, nowMs, owner, ttlMs)),
    fc
      .tuple(anyUint, names, anyPositive, anyHandOff)
      .map(([nowMs, name, token, handOffTo]) => expire(name, nowMs, token, handOffTo)),
    anyUint.map(extendLeases),
  );
}
