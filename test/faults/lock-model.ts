/**
 * The sequential model of one exclusive lock that the checker linearizes a history against, and
 * what a single operation tells about the lock (used by the direct checks).
 *
 * The state is free or held by one holder (owner, token, lease), plus `tokenFloor`: every token
 * granted so far on this lock is at most the floor, so a new grant's token must exceed it. Tokens
 * are Raft indexes, so they only grow; a grant whose answer was lost has a token we never saw, and
 * it stays unknown (null) until an answer that carries it pins it.
 *
 * Leases: a lease's earliest possible end is `deadlineMs` = the call time of the operation that set
 * it + its ttl (the leader stamps the lease when it proposes, which is after the call). The lease
 * may end at any time after that, or much later (a new leader gives every live lease its full ttl
 * again), so `expire` is a transition the search may take, never one it must take.
 *
 * One refinement: lockd's state machine measures leases with its own clock, the highest stamp of
 * any entry applied so far, which never goes back. So a lease set after an acknowledged write
 * cannot end before that write's call + ttl either: `clockMs` is the latest call among the
 * acknowledged writes taken so far, and a lease starts at max(call, clockMs). Writes whose answer
 * was lost do not advance it (their stamp is unknown, and leaving them out keeps lost operations of
 * one kind and owner interchangeable for the search).
 */
import type { Operation, Outcome } from './history.js';

export interface Holder {
  /** null: an anonymous holder (an acquire without `owner`); no request ever matches it but a release without owner. */
  readonly owner: string | null;
  /** null: granted by an operation whose answer was lost, so not yet seen; at least `tokenFloor`. */
  readonly token: number | null;
  /** The ttl of the lease (kept by a refresh without ttl); null: no lease, held until released. */
  readonly ttlMs: number | null;
  /** The earliest moment the lease can end, on the runner's clock; null without a lease. */
  readonly deadlineMs: number | null;
}

export interface LockModelState {
  readonly holder: Holder | null;
  /** Every token granted so far is at most this, so the next grant's token must exceed it. */
  readonly tokenFloor: number;
  /** The state machine's clock is at least this: the latest call of an acknowledged write so far. */
  readonly clockMs: number;
}

export const initialLockState: LockModelState = { holder: null, tokenFloor: 0, clockMs: 0 };

/** The owner a request acts as; null for a request without owner (anonymous). */
export function ownerOf(operation: Operation): string | null {
  return operation.owner ?? null;
}

/**
 * Whether a request by `owner` acts on the holding `holder`: release and refresh match by owner,
 * anonymous included (a release without owner releases an anonymous holder).
 */
function isHolderOf(holder: Holder, owner: string | null): boolean {
  return holder.owner === owner;
}

/** Acquire is stricter: an anonymous acquire never matches a holder, so it conflicts (the seed). */
function isRenewalBy(holder: Holder, owner: string | null): boolean {
  return owner !== null && holder.owner === owner;
}

function leaseFrom(
  state: LockModelState,
  operation: Operation,
  ttlMs: number | null,
): Pick<Holder, 'ttlMs' | 'deadlineMs'> {
  const startMs = Math.max(operation.callMs, state.clockMs);
  return { ttlMs, deadlineMs: ttlMs === null ? null : startMs + ttlMs };
}

/** The state after an acknowledged write: the state machine's clock has reached its call. */
function acknowledged(state: LockModelState | undefined, operation: Operation) {
  if (state === undefined || state.clockMs >= operation.callMs) return state;
  return { ...state, clockMs: operation.callMs };
}

function freed(state: LockModelState): LockModelState {
  return { holder: null, tokenFloor: state.tokenFloor, clockMs: state.clockMs };
}

/**
 * The state after an answer showed the holder's token `token` (undefined: the answer carried none).
 * Undefined if the answer contradicts the model: a known token differs, or an unknown one would be
 * below what it must be at least.
 */
function pinToken(state: LockModelState, token: number | undefined): LockModelState | undefined {
  const holder = state.holder;
  if (holder === null) return undefined;
  if (token === undefined) return state;
  if (holder.token !== null) return holder.token === token ? state : undefined;
  if (token < state.tokenFloor) return undefined;
  return { ...state, holder: { ...holder, token }, tokenFloor: token };
}

/** A new holding; the grant's token (undefined: unknown) must exceed every earlier one. */
function grant(
  state: LockModelState,
  operation: Operation,
  token: number | undefined,
): LockModelState | undefined {
  if (token !== undefined && token <= state.tokenFloor) return undefined;
  const lease = leaseFrom(state, operation, operation.ttlMs ?? null);
  return {
    holder: { owner: ownerOf(operation), token: token ?? null, ...lease },
    // An unknown token is at least floor + 1, and the next grant must exceed it.
    tokenFloor: token ?? state.tokenFloor + 1,
    clockMs: state.clockMs,
  };
}

/** The same holding with a lease set again from this call: acquire by its owner, or refresh. */
function renew(
  state: LockModelState,
  operation: Operation,
  token: number | undefined,
): LockModelState | undefined {
  const pinned = pinToken(state, token);
  if (pinned?.holder == null) return undefined;
  // A re-acquire sets the lease it asks for (none without ttl); a refresh without ttl keeps the ttl.
  const ttlMs =
    operation.kind === 'refresh'
      ? (operation.ttlMs ?? pinned.holder.ttlMs)
      : (operation.ttlMs ?? null);
  return { ...pinned, holder: { ...pinned.holder, ...leaseFrom(pinned, operation, ttlMs) } };
}

function applyAcquireOk(state: LockModelState, operation: Operation, token: number | undefined) {
  if (state.holder === null) return grant(state, operation, token);
  if (isRenewalBy(state.holder, ownerOf(operation))) return renew(state, operation, token);
  return undefined;
}

/**
 * What a definite failure says: 404 the lock is free, 409 someone else holds it. Any other status
 * (429 a limit, 400) changed nothing and says nothing about the holder.
 */
function applyFailure(
  state: LockModelState,
  operation: Operation,
  status: number,
): LockModelState | undefined {
  const owner = ownerOf(operation);
  const held = state.holder !== null;
  if (status === 404) return held ? undefined : state;
  if (status !== 409) return state;
  if (state.holder === null) return undefined;
  const ownsIt =
    operation.kind === 'acquire'
      ? isRenewalBy(state.holder, owner)
      : isHolderOf(state.holder, owner);
  // A check never fails with 409; were it to, the lock was at least held.
  return ownsIt && operation.kind !== 'check' ? undefined : state;
}

type OkOutcome = Extract<Outcome, { type: 'ok' }>;

function applyOk(
  state: LockModelState,
  operation: Operation,
  outcome: OkOutcome,
): LockModelState | undefined {
  const holder = state.holder;
  const owner = ownerOf(operation);
  switch (operation.kind) {
    case 'acquire':
      return acknowledged(applyAcquireOk(state, operation, outcome.token), operation);
    case 'refresh':
      if (holder === null || !isHolderOf(holder, owner)) return undefined;
      return acknowledged(renew(state, operation, outcome.token), operation);
    case 'release': {
      if (holder === null || !isHolderOf(holder, owner)) return undefined;
      const pinned = pinToken(state, outcome.token);
      return pinned === undefined ? undefined : acknowledged(freed(pinned), operation);
    }
    case 'check':
      if (holder === null) return undefined;
      if (outcome.holder !== undefined && outcome.holder !== holder.owner) return undefined;
      return pinToken(state, outcome.token);
  }
}

/**
 * The state after `operation` with its definite answer (ok or fail), or undefined if that answer
 * is impossible in `state`. Returns `state` itself when the operation changed nothing, which the
 * search relies on to linearize such operations greedily.
 */
export function applyDefinite(
  state: LockModelState,
  operation: Operation,
): LockModelState | undefined {
  const outcome = operation.outcome;
  if (outcome.type === 'ok') return applyOk(state, operation, outcome);
  if (outcome.type === 'fail') return applyFailure(state, operation, outcome.status);
  throw new Error(`operation ${operation.id} has an unknown outcome: use applyUnknownEffect`);
}

/**
 * The state after an operation whose answer was lost took effect, or undefined if it could have
 * had no effect in `state` (then the search simply leaves it out, which is the same).
 */
export function applyUnknownEffect(
  state: LockModelState,
  operation: Operation,
): LockModelState | undefined {
  const holder = state.holder;
  const owner = ownerOf(operation);
  switch (operation.kind) {
    case 'acquire':
      if (holder === null) return abandonable(grant(state, operation, undefined), operation);
      return isRenewalBy(holder, owner) ? renew(state, operation, undefined) : undefined;
    case 'refresh':
      return holder !== null && isHolderOf(holder, owner)
        ? renew(state, operation, undefined)
        : undefined;
    case 'release':
      return holder !== null && isHolderOf(holder, owner) ? freed(state) : undefined;
    case 'check':
      return undefined;
  }
}

/**
 * A grant whose answer was lost: its client gave up on it, and lockd releases a grant nobody
 * received (unless its owner renewed it since), at any moment after the call. So it may end then,
 * as a lease may: its earliest end is the call. A renewal by its owner sets a lease anew.
 */
function abandonable(
  state: LockModelState | undefined,
  operation: Operation,
): LockModelState | undefined {
  if (state?.holder == null) return state;
  return { ...state, holder: { ...state.holder, deadlineMs: operation.callMs } };
}

/**
 * The state after the lease ended, if it may have ended before every operation that returns at
 * `latestReturnMs` or later: only once its earliest deadline has passed (less the tolerance).
 */
export function expireBefore(
  state: LockModelState,
  latestReturnMs: number,
  clockToleranceMs: number,
): LockModelState | undefined {
  const deadlineMs = state.holder?.deadlineMs ?? null;
  if (deadlineMs === null || latestReturnMs < deadlineMs - clockToleranceMs) return undefined;
  return freed(state);
}

/**
 * Whether `after` is `before` with the same holding and ttl and a lease that ends no earlier: such
 * a state allows nothing `before` does not (the deadline only forbids expiries).
 */
export function onlyLengthensLease(before: LockModelState, after: LockModelState): boolean {
  const old = before.holder;
  const renewed = after.holder;
  if (old === null || renewed === null) return false;
  if (old.owner !== renewed.owner || old.token !== renewed.token || old.ttlMs !== renewed.ttlMs) {
    return false;
  }
  if (before.tokenFloor !== after.tokenFloor || before.clockMs !== after.clockMs) return false;
  if (renewed.deadlineMs === null) return true;
  return old.deadlineMs !== null && renewed.deadlineMs >= old.deadlineMs;
}

/**
 * Whether `better` allows everything `worse` allows: the same holding (owner, token, ttl) or both
 * free, a lease that ends no later, and a token floor no higher.
 */
export function dominates(better: LockModelState, worse: LockModelState): boolean {
  if (better.tokenFloor > worse.tokenFloor || better.clockMs > worse.clockMs) return false;
  const left = better.holder;
  const right = worse.holder;
  if (left === null || right === null) return left === right;
  if (left.owner !== right.owner || left.token !== right.token || left.ttlMs !== right.ttlMs) {
    return false;
  }
  if (left.deadlineMs === null || right.deadlineMs === null)
    return left.deadlineMs === right.deadlineMs;
  return left.deadlineMs <= right.deadlineMs;
}

/** A compact exact key of the state, for the search's memo. */
export function stateKey(state: LockModelState): string {
  const holder = state.holder;
  const common = `${state.tokenFloor}/${state.clockMs}`;
  if (holder === null) return `free/${common}`;
  return `${holder.owner ?? '\u0000'}/${holder.token ?? '?'}/${holder.ttlMs ?? '-'}/${holder.deadlineMs ?? '-'}/${common}`;
}

export function describeState(state: LockModelState): string {
  const holder = state.holder;
  if (holder === null) return `free (tokens so far <= ${state.tokenFloor})`;
  const owner = holder.owner ?? 'an anonymous holder';
  const token =
    holder.token === null ? `unknown token >= ${state.tokenFloor}` : `token ${holder.token}`;
  const lease =
    holder.deadlineMs === null
      ? 'no lease'
      : `lease ${holder.ttlMs} ms, earliest end ${holder.deadlineMs} ms`;
  return `held by ${owner} (${token}, ${lease})`;
}

/**
 * What a definite operation shows about `owner`'s holding at its linearization point, for the
 * direct checks: `held` by `owner`; `free`; `granted-to-other` (another owner's acquire found it
 * free); `held-by-other` (a check saw another holder, or `owner` itself was told 409);
 * `renewed-by-other` (another owner's refresh or release found it theirs); undefined if it shows
 * nothing about `owner` (an acquire by `owner` itself, a 409 to someone else, a lost answer).
 */
export type Observation =
  | 'held'
  | 'free'
  | 'granted-to-other'
  | 'held-by-other'
  | 'renewed-by-other';

export function observationAbout(operation: Operation, owner: string): Observation | undefined {
  const outcome = operation.outcome;
  const actor = ownerOf(operation);
  if (outcome.type === 'unknown') return undefined;
  if (outcome.type === 'fail') {
    if (outcome.status === 404) return 'free';
    const toOwner = outcome.status === 409 && actor === owner && operation.kind !== 'check';
    return toOwner ? 'held-by-other' : undefined;
  }
  if (operation.kind === 'check') {
    if (outcome.holder === undefined) return undefined;
    return outcome.holder === owner ? 'held' : 'held-by-other';
  }
  if (actor === owner) return operation.kind === 'acquire' ? undefined : 'held';
  return operation.kind === 'acquire' ? 'granted-to-other' : 'renewed-by-other';
}
