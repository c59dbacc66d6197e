/**
 * The checker of a fault run's history. Per lock (locks are independent, so a history is
 * linearizable iff each lock's part is), it runs direct checks that name a precise problem:
 *
 * - `fencing`: a token went backwards, or two owners got one token, or one token was granted on
 *   two locks (the one check that spans locks);
 * - `lost-ack`: an acknowledged release or grant was undone: a released lock seen held by the
 *   same owner again with no acquire by it in between, or a granted (or refreshed) lock found free
 *   or held by another before its lease could end, with no release in between;
 * - `expired-grant`: a refresh (or re-acquire with the same token) succeeded although the lease had
 *   certainly ended: the lock was seen free or held by another after the grant, with no acquire by
 *   the owner in between (etcd#11456);
 * - `linearizability`, directly: a holding (owner and token) seen alive before and after an
 *   operation that found the lock free or held otherwise (a token is one grant: a holding that
 *   ended never comes back);
 *
 * and, if none fires, the linearizability search against the lock model (`linearizability`), which
 * catches everything else. A search that exceeds its bound is `inconclusive`: not ok, not a
 * violation. Each check reports at most one violation per kind and lock, with a count of the rest.
 * The direct checks only flag what the model forbids, so they never fail a linearizable history;
 * they name the problem precisely and spare the search the slow proof.
 *
 * Checks are taken to be linearizable reads (lockd answers GET with a ReadIndex round unless asked
 * for `stale=true`, which the runner must not use).
 *
 * A lease outliving its deadline is not a violation: a new leader gives every live lease its full
 * ttl again, so a refresh long after the deadline may succeed. Only an observation that the lease
 * had ended (the lock free or someone else's) makes a later success on that lease a violation.
 */
import { excerptOperationsMax, renderExcerpt } from './excerpt.js';
import { checkFencing, type Finding, tokensOnSeveralLocks } from './fencing.js';
import type { History, Operation } from './history.js';
import { type DeepestPoint, searchLinearization } from './linearizability.js';
import { describeState, type Observation, observationAbout } from './lock-model.js';

export type ViolationKind = 'linearizability' | 'fencing' | 'lost-ack' | 'expired-grant';

export interface Violation {
  readonly kind: ViolationKind;
  readonly lock: string;
  readonly message: string;
  /** The lock's operations over the window that shows the problem (involved ones marked `>`). */
  readonly excerpt: string;
}

/** A lock whose search hit the bound: neither shown linearizable nor shown not to be. */
export interface Inconclusive {
  readonly lock: string;
  readonly searchStates: number;
  readonly message: string;
}

export interface CheckOptions {
  /** How much earlier than call + ttl a lease may end (clock drift between leaders). Default 0. */
  readonly clockToleranceMs?: number;
  /** The most memoised search states per lock before the lock is inconclusive. Default 5e6. */
  readonly maxSearchStates?: number;
}

export interface CheckStats {
  readonly operations: number;
  readonly locks: number;
  readonly unknown: number;
  /** Memoised states summed over the searches run (locks with a direct violation are not searched). */
  readonly searchStates: number;
  readonly searchedLocks: number;
}

export interface CheckResult {
  readonly ok: boolean;
  readonly violations: readonly Violation[];
  readonly inconclusive: readonly Inconclusive[];
  readonly stats: CheckStats;
}

export const defaultMaxSearchStates = 5_000_000;

export function formatViolation(violation: Violation): string {
  return `${violation.kind} violation on lock ${violation.lock}: ${violation.message}\n${violation.excerpt}`;
}

const byCallTime = (left: Operation, right: Operation): number =>
  left.callMs - right.callMs || left.id - right.id;

function validate(history: History): void {
  const ids = new Set<number>();
  for (const operation of history.operations) {
    if (ids.has(operation.id)) throw new Error(`history: operation id ${operation.id} repeats`);
    ids.add(operation.id);
    if (!Number.isFinite(operation.callMs)) {
      throw new Error(`history: operation ${operation.id} has no call time (${operation.callMs})`);
    }
    if (!(operation.returnMs >= operation.callMs)) {
      throw new Error(
        `history: operation ${operation.id} returns at ${operation.returnMs} ms, before its call at ${operation.callMs} ms`,
      );
    }
  }
}

function partitionByLock(operations: readonly Operation[]): Map<string, Operation[]> {
  const byLock = new Map<string, Operation[]>();
  for (const operation of operations) {
    const list = byLock.get(operation.lock);
    if (list === undefined) byLock.set(operation.lock, [operation]);
    else list.push(operation);
  }
  for (const list of byLock.values()) list.sort(byCallTime);
  return new Map([...byLock].sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0)));
}

const isAcknowledged = (operation: Operation): boolean => operation.outcome.type === 'ok';

/** When an operation's effect may happen until: its return, or for ever if its answer was lost. */
const effectEndMs = (operation: Operation): number =>
  operation.outcome.type === 'unknown' ? Number.POSITIVE_INFINITY : operation.returnMs;

function describeObservation(observation: Observation | undefined): string {
  switch (observation) {
    case 'held':
      return 'held by that owner';
    case 'free':
      return 'free';
    case 'granted-to-other':
      return 'free (granted to another owner)';
    case 'held-by-other':
      return 'held by another owner';
    case 'renewed-by-other':
      return 'held by another owner (renewed or released by it)';
    case undefined:
      return 'in an unknown state';
  }
}

const mayHaveTakenEffect = (operation: Operation): boolean => operation.outcome.type !== 'fail';

/** The earliest deadline an acknowledged grant or refresh set; undefined if it is not known. */
function acknowledgedDeadlineMs(operation: Operation): number | undefined {
  if (operation.ttlMs !== undefined) return operation.callMs + operation.ttlMs;
  // Without ttl an acquire takes no lease; a refresh keeps a ttl this operation does not show.
  return operation.kind === 'acquire' ? Number.POSITIVE_INFINITY : undefined;
}

/** One owner's operations in call order, with the running maximum of their effect ends. */
interface OwnOperations {
  readonly operations: readonly Operation[];
  readonly effectEndMaxMs: readonly number[];
}

/**
 * The earliest call among the owner's operations that may undo or shorten its holding after
 * `anchor` (`interferes` decides which): an observation returning after that proves nothing. The
 * scan starts at the first operation whose effect may reach past the anchor's call, and stops once
 * calls pass the best found.
 */
function earliestInterferenceMs(
  own: OwnOperations,
  anchor: Operation,
  interferes: (operation: Operation) => boolean,
): number {
  let low = 0;
  let high = own.operations.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((own.effectEndMaxMs[middle] ?? Number.POSITIVE_INFINITY) <= anchor.callMs) low = middle + 1;
    else high = middle;
  }
  let earliestMs = Number.POSITIVE_INFINITY;
  for (let index = low; index < own.operations.length; index++) {
    const operation = own.operations[index];
    if (operation === undefined || operation.callMs >= earliestMs) break;
    if (operation.id === anchor.id || effectEndMs(operation) <= anchor.callMs) continue;
    if (interferes(operation)) earliestMs = operation.callMs;
  }
  return earliestMs;
}

/** The index of the first operation (in call order) called after `afterMs`. */
function firstCalledAfter(lockOperations: readonly Operation[], afterMs: number): number {
  let low = 0;
  let high = lockOperations.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((lockOperations[middle]?.callMs ?? Number.POSITIVE_INFINITY) <= afterMs) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The first operation after `anchor` returned that shows `wanted`, returning by `byMs` (exclusive). */
function firstObservationAfter(
  lockOperations: readonly Operation[],
  anchor: Operation,
  owner: string,
  byMs: number,
  wanted: (observation: Observation, operation: Operation) => boolean,
): Operation | undefined {
  for (let index = firstCalledAfter(lockOperations, anchor.returnMs); ; index++) {
    const operation = lockOperations[index];
    if (operation === undefined || operation.callMs >= byMs) break;
    if (operation.returnMs >= byMs) continue;
    const observation = observationAbout(operation, owner);
    if (observation !== undefined && wanted(observation, operation)) return operation;
  }
  return undefined;
}

/** The index of the first operation (in call order) called at `fromMs` or later. */
function firstCalledFrom(sorted: readonly Operation[], fromMs: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((sorted[middle]?.callMs ?? Number.POSITIVE_INFINITY) < fromMs) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * One owner's acquires, indexed for the questions the direct checks ask about them. An owner is
 * one client's, so its operations do not overlap, and the walks below end after a step or two.
 */
class OwnAcquires {
  readonly #acquires: readonly Operation[];
  /** Running maximum, in call order, of when each acquire's effect may have happened. */
  readonly #effectEndMaxMs: readonly number[];
  readonly #grantsWithToken: readonly Operation[];
  readonly #grants: readonly Operation[];
  readonly #firstGrantByToken = new Map<number, Operation>();

  constructor(ownOperations: readonly Operation[]) {
    this.#acquires = ownOperations.filter((operation) => operation.kind === 'acquire');
    let maxMs = Number.NEGATIVE_INFINITY;
    this.#effectEndMaxMs = this.#acquires.map((operation) => {
      if (mayHaveTakenEffect(operation)) maxMs = Math.max(maxMs, effectEndMs(operation));
      return maxMs;
    });
    this.#grants = this.#acquires.filter(isAcknowledged);
    this.#grantsWithToken = this.#grants.filter((operation) => tokenOf(operation) !== undefined);
    for (const grant of this.#grantsWithToken) {
      const token = tokenOf(grant);
      if (token !== undefined && !this.#firstGrantByToken.has(token)) {
        this.#firstGrantByToken.set(token, grant);
      }
    }
  }

  /** The last acknowledged grant (showing a token, if asked) that returned before `beforeMs`. */
  lastGrantBefore(beforeMs: number, withToken: boolean): Operation | undefined {
    const grants = withToken ? this.#grantsWithToken : this.#grants;
    for (let index = firstCalledFrom(grants, beforeMs) - 1; index >= 0; index--) {
      const grant = grants[index];
      if (grant !== undefined && grant.returnMs < beforeMs) return grant;
    }
    return undefined;
  }

  /** The first acknowledged grant of `token`, if it returned before `beforeMs`. */
  grantOfToken(token: number, beforeMs: number): Operation | undefined {
    const grant = this.#firstGrantByToken.get(token);
    return grant !== undefined && grant.returnMs < beforeMs ? grant : undefined;
  }

  /**
   * Until when an acquire by the owner other than `renewal`, called before `renewal` returned,
   * may have taken the lock (anew, or as a renewal of the same holding, which only makes this
   * later and so the check more cautious).
   */
  retakenUntilMs(renewal: Operation): number {
    const before = firstCalledFrom(this.#acquires, renewal.callMs);
    let untilMs = this.#effectEndMaxMs[before - 1] ?? Number.NEGATIVE_INFINITY;
    for (let index = before; index < this.#acquires.length; index++) {
      const operation = this.#acquires[index];
      if (operation === undefined || operation.callMs >= renewal.returnMs) break;
      if (operation.id !== renewal.id && mayHaveTakenEffect(operation)) {
        untilMs = Math.max(untilMs, effectEndMs(operation));
      }
    }
    return untilMs;
  }
}

function tokenOf(operation: Operation): number | undefined {
  return operation.outcome.type === 'ok' ? operation.outcome.token : undefined;
}

/** Each owner's operations (anonymous ones are left to the search). */
function indexByOwner(lockOperations: readonly Operation[]): Map<string, OwnOperations> {
  const byOwner = new Map<string, Operation[]>();
  for (const operation of lockOperations) {
    if (operation.owner === undefined) continue;
    const list = byOwner.get(operation.owner);
    if (list === undefined) byOwner.set(operation.owner, [operation]);
    else list.push(operation);
  }
  const indexed = new Map<string, OwnOperations>();
  for (const [owner, operations] of byOwner) {
    let maxMs = Number.NEGATIVE_INFINITY;
    const effectEndMaxMs = operations.map((operation) => {
      maxMs = Math.max(maxMs, effectEndMs(operation));
      return maxMs;
    });
    indexed.set(owner, { operations, effectEndMaxMs });
  }
  return indexed;
}

/**
 * A grant or refresh acknowledged, then the lock found free or someone else's before the lease
 * could end, while no operation of the owner could have released it or shortened the lease.
 * `expiredRenewals` (refreshes already reported as renewing an ended lease) are not counted as
 * proof of another holder: the refresh is the anomaly there, not the grant.
 */
function lostGrants(
  lockOperations: readonly Operation[],
  toleranceMs: number,
  expiredRenewals: ReadonlySet<number>,
): Finding[] {
  const findings: Finding[] = [];
  for (const [owner, own] of indexByOwner(lockOperations)) {
    for (const anchor of own.operations) {
      const isGrant = anchor.kind === 'acquire' || anchor.kind === 'refresh';
      const deadlineMs =
        isGrant && isAcknowledged(anchor) ? acknowledgedDeadlineMs(anchor) : undefined;
      if (deadlineMs === undefined) continue;
      const interferenceMs = earliestInterferenceMs(
        own,
        anchor,
        (operation) => operation.kind !== 'check' && mayHaveTakenEffect(operation),
      );
      const byMs = Math.min(deadlineMs - toleranceMs, interferenceMs);
      const contradiction = firstObservationAfter(
        lockOperations,
        anchor,
        owner,
        byMs,
        (observation, operation) => observation !== 'held' && !expiredRenewals.has(operation.id),
      );
      if (contradiction === undefined) continue;
      findings.push({
        message:
          `${anchor.kind} #${anchor.id} by ${owner} was acknowledged, then #${contradiction.id} found the lock ` +
          `${describeObservation(observationAbout(contradiction, owner))} at ${contradiction.callMs}–${contradiction.returnMs} ms, ` +
          `before the lease could end (${deadlineMs === Number.POSITIVE_INFINITY ? 'no lease' : `earliest ${deadlineMs} ms`}) and with no release by ${owner} in between: a lost ${anchor.kind === 'acquire' ? 'grant' : 'refresh'}`,
        involved: [anchor, contradiction],
      });
    }
  }
  return findings;
}

/**
 * A release acknowledged, then the lock seen held by the same owner (or re-granted to it with the
 * released token) while no acquire of that owner could have taken it again.
 */
function lostReleases(lockOperations: readonly Operation[]): Finding[] {
  const findings: Finding[] = [];
  for (const [owner, own] of indexByOwner(lockOperations)) {
    const acquires = new OwnAcquires(own.operations);
    for (const release of own.operations) {
      if (release.kind !== 'release' || !isAcknowledged(release)) continue;
      const released = acquires.lastGrantBefore(release.callMs, true);
      const token = released === undefined ? undefined : tokenOf(released);
      const regrantsReleased = (operation: Operation): boolean =>
        operation.kind === 'acquire' &&
        operation.outcome.type === 'ok' &&
        token !== undefined &&
        operation.outcome.token === token;
      const interferenceMs = earliestInterferenceMs(
        own,
        release,
        (operation) =>
          operation.kind === 'acquire' &&
          mayHaveTakenEffect(operation) &&
          !regrantsReleased(operation),
      );
      const contradiction = firstObservationAfter(
        lockOperations,
        release,
        owner,
        interferenceMs,
        (observation, operation) =>
          observation === 'held' || (operation.owner === owner && regrantsReleased(operation)),
      );
      if (contradiction === undefined) continue;
      findings.push({
        message:
          `release #${release.id} by ${owner} was acknowledged, then #${contradiction.id} (${contradiction.kind}) ` +
          `saw ${owner} holding the lock again with no acquire by ${owner} in between: a lost release`,
        involved: [release, contradiction],
      });
    }
  }
  return findings;
}

/**
 * The acknowledged grant that `renewal` renewed, if it can be told: for a refresh or re-acquire
 * showing a token, the first grant of that token; for a refresh showing none, the owner's last
 * grant before it.
 */
function grantRenewed(acquires: OwnAcquires, renewal: Operation): Operation | undefined {
  if (!isAcknowledged(renewal)) return undefined;
  if (renewal.kind !== 'refresh' && renewal.kind !== 'acquire') return undefined;
  const token = tokenOf(renewal);
  if (token !== undefined) {
    const grant = acquires.grantOfToken(token, renewal.callMs);
    return grant?.id === renewal.id ? undefined : grant;
  }
  return renewal.kind === 'refresh' ? acquires.lastGrantBefore(renewal.callMs, false) : undefined;
}

/**
 * A refresh, or a re-acquire returning an earlier grant's token, that succeeded after the lock was
 * seen free or someone else's since that grant, with no acquire by the owner in between: the lease
 * had ended, so the holding it renewed no longer existed.
 */
function expiredGrants(lockOperations: readonly Operation[]): Finding[] {
  const findings: Finding[] = [];
  for (const [owner, own] of indexByOwner(lockOperations)) {
    const acquires = new OwnAcquires(own.operations);
    for (const renewal of own.operations) {
      const grant = grantRenewed(acquires, renewal);
      if (grant === undefined) continue;
      const sinceMs = Math.max(grant.returnMs, acquires.retakenUntilMs(renewal));
      const ended = firstObservationAfter(
        lockOperations,
        { ...grant, returnMs: sinceMs },
        owner,
        renewal.callMs,
        (observation) => observation !== 'held',
      );
      if (ended === undefined) continue;
      findings.push({
        message:
          `${renewal.kind} #${renewal.id} by ${owner} renewed the grant #${grant.id} although #${ended.id} had found the lock ` +
          `${describeObservation(observationAbout(ended, owner))} since, with no acquire by ${owner} in between: the lease had ended (etcd#11456)`,
        involved: [grant, ended, renewal],
      });
    }
  }
  return findings;
}

/** The holding an acknowledged answer shows: its owner and token, if the answer names both. */
function holdingShown(operation: Operation): { owner: string; token: number } | undefined {
  const outcome = operation.outcome;
  if (outcome.type !== 'ok' || outcome.token === undefined) return undefined;
  if (operation.kind === 'check') {
    return outcome.holder === undefined
      ? undefined
      : { owner: outcome.holder, token: outcome.token };
  }
  const isRenewal = operation.kind === 'acquire' || operation.kind === 'refresh';
  return isRenewal && operation.owner !== undefined
    ? { owner: operation.owner, token: outcome.token }
    : undefined;
}

/** Whether `operation` shows that `owner` did not hold the lock with `token` at its point. */
function showsOtherThan(operation: Operation, owner: string, token: number): boolean {
  const observation = observationAbout(operation, owner);
  if (observation === undefined) return false;
  if (observation !== 'held') return true;
  const shown = holdingShown(operation);
  return shown !== undefined && shown.token !== token;
}

/**
 * A holding (owner and token) seen alive at one operation and again at a later one, with an
 * operation between them that found the lock free or held otherwise. A token is one grant, so a
 * holding that ended never comes back: it was alive from its first sighting to its last, and the
 * operation between saw something that was not so (a stale read, or a second holder). Lost
 * operations cannot explain this, which makes it a direct check for what the search would
 * otherwise prove slowly.
 */
function resurrectedHoldings(
  lockOperations: readonly Operation[],
  expiredRenewals: ReadonlySet<number>,
): Finding[] {
  const findings: Finding[] = [];
  for (const [holding, seen] of sightingsByHolding(lockOperations)) {
    const firstReturnMs = Math.min(...seen.map((operation) => operation.returnMs));
    const lastCallMs = Math.max(...seen.map((operation) => operation.callMs));
    for (let index = firstCalledAfter(lockOperations, firstReturnMs); ; index++) {
      const between = lockOperations[index];
      if (between === undefined || between.callMs >= lastCallMs) break;
      if (between.returnMs >= lastCallMs) continue;
      if (!showsOtherThan(between, holding.owner, holding.token)) continue;
      const before = seen.filter((operation) => operation.returnMs < between.callMs).at(-1);
      const after = seen.find((operation) => operation.callMs > between.returnMs);
      // A renewal of an ended lease is reported as such (expired-grant), not again here.
      if (before === undefined || after === undefined || expiredRenewals.has(after.id)) continue;
      findings.push({
        message:
          `the holding of ${holding.owner} with token ${holding.token} was seen at #${before.id} and again at #${after.id}, ` +
          `but #${between.id} (${between.kind}) between them found the lock ${describeOtherHolding(between, holding.owner)}: ` +
          'a holding cannot end and come back',
        involved: [before, between, after],
      });
      break;
    }
  }
  return findings;
}

function describeOtherHolding(operation: Operation, owner: string): string {
  const observation = observationAbout(operation, owner);
  return observation === 'held'
    ? `held by ${owner} with another token`
    : describeObservation(observation);
}

/** The operations that show each holding, in call order. */
function sightingsByHolding(
  lockOperations: readonly Operation[],
): Map<{ readonly owner: string; readonly token: number }, Operation[]> {
  const byKey = new Map<string, { holding: { owner: string; token: number }; seen: Operation[] }>();
  for (const operation of lockOperations) {
    const shown = holdingShown(operation);
    if (shown === undefined) continue;
    const key = `${shown.owner}\u0000${shown.token}`;
    const entry = byKey.get(key);
    if (entry === undefined) byKey.set(key, { holding: shown, seen: [operation] });
    else entry.seen.push(operation);
  }
  return new Map([...byKey.values()].map((entry) => [entry.holding, entry.seen]));
}

function toViolation(
  kind: ViolationKind,
  lock: string,
  findings: readonly Finding[],
  lockOperations: readonly Operation[],
  history: History,
): Violation[] {
  const first = findings[0];
  if (first === undefined) return [];
  const more = findings.length > 1 ? ` (and ${findings.length - 1} more like it on this lock)` : '';
  const excerpt = renderExcerpt(lockOperations, history.faults, first.involved);
  return [{ kind, lock, message: `${first.message}${more}`, excerpt }];
}

function directViolations(
  lock: string,
  lockOperations: readonly Operation[],
  history: History,
  toleranceMs: number,
): Violation[] {
  const expired = expiredGrants(lockOperations);
  const expiredRenewals = new Set(expired.flatMap((finding) => finding.involved.at(-1)?.id ?? []));
  const lost = [
    ...lostReleases(lockOperations),
    ...lostGrants(lockOperations, toleranceMs, expiredRenewals),
  ];
  const resurrected = resurrectedHoldings(lockOperations, expiredRenewals);
  return [
    ...toViolation('fencing', lock, checkFencing(lockOperations), lockOperations, history),
    ...toViolation('lost-ack', lock, lost, lockOperations, history),
    ...toViolation('expired-grant', lock, expired, lockOperations, history),
    ...toViolation('linearizability', lock, resurrected, lockOperations, history),
  ];
}

/** Tokens shown on two locks; the excerpt spans the operations of both. */
function crossLockViolations(history: History): Violation[] {
  const findings = tokensOnSeveralLocks(history.operations);
  const first = findings[0];
  if (first === undefined) return [];
  const locks = new Set(first.involved.map((operation) => operation.lock));
  const operations = history.operations.filter((operation) => locks.has(operation.lock));
  return toViolation('fencing', [...locks].join(' and '), findings, operations, history);
}

/** The operations an excerpt of a failed search shows: the end of the prefix and what was stuck. */
function involvedInSearchFailure(deepest: DeepestPoint): Operation[] {
  const prefix = deepest.linearized;
  const lastChange = [...prefix]
    .reverse()
    .find((operation) => operation.outcome.type !== 'fail' && operation.kind !== 'check');
  const chosen = [
    ...(lastChange === undefined ? [] : [lastChange]),
    ...prefix.slice(-2),
    ...(deepest.unreachable === undefined
      ? [...deepest.candidates.slice(0, excerptOperationsMax - 3), deepest.stuck]
      : [deepest.unreachable.shownBy]),
  ];
  return [...new Map(chosen.map((operation) => [operation.id, operation])).values()];
}

function describePrefix(deepest: DeepestPoint, total: number): string {
  if (deepest.linearized.length === 0) return 'no operation linearizes';
  const tail = deepest.linearized.slice(-3).map((operation) => `#${operation.id}`);
  return `the longest linearizable prefix has ${deepest.linearized.length} of ${total} operations (ending ${tail.join(', ')})`;
}

function searchViolationMessage(deepest: DeepestPoint, total: number): string {
  if (deepest.unreachable !== undefined) {
    const { token, shownBy } = deepest.unreachable;
    return (
      `${describePrefix(deepest, total)}; then the lock is ${describeState(deepest.state)}, but ` +
      `#${shownBy.id} (${shownBy.kind}) shows token ${token}, which no holding can have any more`
    );
  }
  const candidates = deepest.candidates.map((operation) => `#${operation.id}`).join(', ');
  const evenIfExpired = deepest.state.holder?.deadlineMs == null ? '' : ', even if the lease ends';
  return (
    `${describePrefix(deepest, total)}; then the lock is ${describeState(deepest.state)} and none of ` +
    `${candidates} fits it${evenIfExpired}; #${deepest.stuck.id} (${deepest.stuck.kind}, returned at ` +
    `${deepest.stuck.returnMs} ms) cannot be placed`
  );
}

interface LockVerdict {
  readonly violations: readonly Violation[];
  readonly inconclusive: readonly Inconclusive[];
  readonly searchStates: number;
  readonly searched: boolean;
}

function checkLock(
  lock: string,
  lockOperations: readonly Operation[],
  history: History,
  options: Required<CheckOptions>,
): LockVerdict {
  const direct = directViolations(lock, lockOperations, history, options.clockToleranceMs);
  // A direct violation already fails the run and names the problem better than the search would.
  if (direct.length > 0)
    return { violations: direct, inconclusive: [], searchStates: 0, searched: false };
  const result = searchLinearization(lockOperations, options);
  const base = { searchStates: result.searchStates, searched: true };
  if (result.kind === 'linearizable') return { ...base, violations: [], inconclusive: [] };
  if (result.kind === 'inconclusive') {
    const message =
      `the linearizability search gave up after ${result.searchStates} states (maxSearchStates ` +
      `${options.maxSearchStates}); ${describePrefix(result.deepest, lockOperations.length)}`;
    return {
      ...base,
      violations: [],
      inconclusive: [{ lock, searchStates: result.searchStates, message }],
    };
  }
  const violation: Violation = {
    kind: 'linearizability',
    lock,
    message: searchViolationMessage(result.deepest, lockOperations.length),
    excerpt: renderExcerpt(lockOperations, history.faults, involvedInSearchFailure(result.deepest)),
  };
  return { ...base, violations: [violation], inconclusive: [] };
}

export function checkHistory(history: History, options: CheckOptions = {}): CheckResult {
  validate(history);
  const resolved: Required<CheckOptions> = {
    clockToleranceMs: options.clockToleranceMs ?? 0,
    maxSearchStates: options.maxSearchStates ?? defaultMaxSearchStates,
  };
  const violations: Violation[] = [];
  const inconclusive: Inconclusive[] = [];
  let searchStates = 0;
  let searchedLocks = 0;
  const byLock = partitionByLock(history.operations);
  for (const [lock, lockOperations] of byLock) {
    const verdict = checkLock(lock, lockOperations, history, resolved);
    violations.push(...verdict.violations);
    inconclusive.push(...verdict.inconclusive);
    searchStates += verdict.searchStates;
    if (verdict.searched) searchedLocks++;
  }
  violations.push(...crossLockViolations(history));
  const unknown = history.operations.filter(
    (operation) => operation.outcome.type === 'unknown',
  ).length;
  return {
    ok: violations.length === 0 && inconclusive.length === 0,
    violations,
    inconclusive,
    stats: {
      operations: history.operations.length,
      locks: byLock.size,
      unknown,
      searchStates,
      searchedLocks,
    },
  };
}
