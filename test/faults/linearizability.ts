/**
 * Linearizability of one lock's operations against the lock model, by the Wing–Gong search with
 * Lowe's memoisation (as in Porcupine and Knossos): a depth-first search over which operation takes
 * effect next, never visiting the same (set of operations linearized, model state) twice.
 *
 * - An operation may come next only if it was called before every remaining definite operation
 *   returned (otherwise one of those returned before it was called and must precede it).
 * - An operation whose answer was lost (`unknown`) returns at +infinity and may be left out: it may
 *   have taken effect at any time after its call, or never. Lost checks are dropped at once.
 * - A lease may end before the next operation only if every remaining definite operation returns
 *   at or after the lease's earliest deadline (less the tolerance): they all come after the expiry,
 *   so each one's linearization point, at most its return, is after the deadline.
 * - An operation that changes nothing and fits the current state (a failure, a check of a known
 *   token) is linearized at once without trying anything else: any linearization that places it
 *   later stays one when it is moved to the front, so no branch is lost.
 * - Lost operations take effect just in time: one is applied only if the step right after it
 *   needs it, that is if neither the step alone nor the step followed by the lost operation ends
 *   in a state that allows at least as much. Any linearization can be rewritten so (drop each lost
 *   operation the next step does without, move the others later past every step they commute
 *   with), so no branch is lost, and lost operations of long ago stop being tried at every turn.
 * - The same holds right after an expiry: if some operation changes nothing then, every step that
 *   begins with the expiry can be rewritten to begin with the expiry and that operation.
 * - A chain of lost operations (with expiries) that ends in a state no better than where it began
 *   is dropped: leaving all of them out does at least as well.
 * - Lost operations of one class (see `classifyUnknown`) are interchangeable: only one of a class
 *   is tried at a node, and the memo records the lost operations taken as a multiset of classes.
 *   A lost release is not tried when the lease may end anyway (the expiry leaves the same state
 *   and keeps the release for later), nor a lost renewal that only makes the lease end later.
 *
 * The search is bounded: past `maxSearchStates` memoised states it gives up (`inconclusive`).
 */
import type { Operation } from './history.js';
import {
  applyDefinite,
  applyUnknownEffect,
  dominates,
  expireBefore,
  initialLockState,
  type LockModelState,
  onlyLengthensLease,
  stateKey,
} from './lock-model.js';

export interface SearchOptions {
  readonly clockToleranceMs: number;
  readonly maxSearchStates: number;
}

/** Where the search got furthest: the longest linearizable prefix and what could not follow it. */
export interface DeepestPoint {
  /** The operations linearized, in the order they took effect (lost ones included when they did). */
  readonly linearized: readonly Operation[];
  readonly state: LockModelState;
  /** The definite operations that could have come next; none fits the state. */
  readonly candidates: readonly Operation[];
  /** The remaining definite operation that returned first: it had to come next or be overtaken. */
  readonly stuck: Operation;
  /** Set when the search stopped because a remaining operation shows a token no grant can have. */
  readonly unreachable?: { readonly token: number; readonly shownBy: Operation };
}

export type SearchResult =
  | { readonly kind: 'linearizable'; readonly searchStates: number }
  | {
      readonly kind: 'inconclusive';
      readonly searchStates: number;
      readonly deepest: DeepestPoint;
    }
  | {
      readonly kind: 'not-linearizable';
      readonly searchStates: number;
      readonly deepest: DeepestPoint;
    };

/** One step of the search: optionally the lease ends, then the operation `index` takes effect. */
interface Successor {
  readonly index: number;
  readonly expiredFirst: boolean;
  readonly state: LockModelState;
}

/** A node of the search: the state after `appliedIndex` (-1 at the root) was linearized. */
interface Frame {
  readonly parent: Frame | null;
  readonly appliedIndex: number;
  readonly state: LockModelState;
  /** The lowest index of a definite operation not yet linearized. */
  readonly firstPending: number;
  readonly definiteLinearized: number;
  /** The state after the last definite operation: lost operations since then form a chain. */
  readonly chainStart: LockModelState;
  /** The lost operations taken so far, as two sums of random weights of their classes. */
  readonly lostSums: readonly [number, number];
  readonly candidates: readonly number[];
  readonly horizonIndex: number;
  /** A token a remaining operation shows that can no longer be granted (the branch is dead). */
  readonly unreachableToken: number | undefined;
  /** Made lazily: the search mostly takes the first step, so the rest are rarely needed. */
  readonly successors: Iterator<Successor>;
}

/** What the window of a node holds: candidates, the horizon, and the memo key. */
interface Window {
  readonly candidates: readonly number[];
  readonly horizonMs: number;
  readonly horizonIndex: number;
  /** The lowest token a remaining definite operation shows (+infinity if none shows one). */
  readonly lowestTokenAhead: number;
  readonly key: string;
}

export function searchLinearization(
  operations: readonly Operation[],
  options: SearchOptions,
): SearchResult {
  return new LinearizationSearch(operations, options).run();
}

/**
 * The classes of lost operations: lost operations of one class have the same effect in any state.
 * Releases by one owner are one class (a release's effect does not depend on when it was called).
 * An acquire or refresh is its own class (`fresh`) until the state machine's clock has passed its
 * call; from then on its lease starts at the clock, so those with the same kind, owner and ttl are
 * one class (`stale`), and stay so, since the clock never goes back.
 */
interface UnknownClasses {
  readonly fresh: readonly number[];
  readonly stale: readonly number[];
  readonly count: number;
}

const twoToThe52 = 2 ** 52;

/** Two random 52-bit weights per class, from a fixed seed (xorshift), for the memo's multiset sums. */
function classWeights(count: number): { readonly first: number; readonly second: number }[] {
  let state = 0x9e3779b9;
  const next32 = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  const next52 = (): number => (next32() % 2 ** 20) * 2 ** 32 + next32();
  return Array.from({ length: count }, () => ({ first: next52(), second: next52() }));
}

function classifyUnknown(
  entries: readonly Operation[],
  isUnknown: readonly boolean[],
): UnknownClasses {
  const numbers = new Map<string, number>();
  const numberOf = (name: string): number => {
    const known = numbers.get(name);
    if (known !== undefined) return known;
    numbers.set(name, numbers.size);
    return numbers.size - 1;
  };
  const fresh: number[] = [];
  const stale: number[] = [];
  entries.forEach((operation, index) => {
    const owner = operation.owner === undefined ? '-' : `=${operation.owner}`;
    const kindOwnerTtl = `${operation.kind}/${owner}/${operation.ttlMs}`;
    const isRelease = operation.kind === 'release';
    const unknown = isUnknown[index] === true;
    fresh.push(
      !unknown ? -1 : numberOf(isRelease ? kindOwnerTtl : `${kindOwnerTtl}/${operation.callMs}`),
    );
    stale.push(!unknown ? -1 : numberOf(`${kindOwnerTtl}/stale`));
  });
  return { fresh, stale, count: numbers.size };
}

function groupByOwner(
  entries: readonly Operation[],
  indexes: readonly number[],
): Map<string, number[]> {
  const byOwner = new Map<string, number[]>();
  for (const index of indexes) {
    const owner = entries[index]?.owner ?? '';
    const list = byOwner.get(owner);
    if (list === undefined) byOwner.set(owner, [index]);
    else list.push(index);
  }
  return byOwner;
}

/** The token an acknowledged answer shows, if any. */
function tokenShown(operation: Operation | undefined): number {
  const outcome = operation?.outcome;
  return outcome?.type === 'ok' && outcome.token !== undefined
    ? outcome.token
    : Number.POSITIVE_INFINITY;
}

function lowestTokensFrom(entries: readonly Operation[]): number[] {
  const lowest = new Array<number>(entries.length + 1).fill(Number.POSITIVE_INFINITY);
  for (let index = entries.length - 1; index >= 0; index--) {
    lowest[index] = Math.min(
      lowest[index + 1] ?? Number.POSITIVE_INFINITY,
      tokenShown(entries[index]),
    );
  }
  return lowest;
}

/**
 * Whether every token still to be shown can be: a remaining operation can only see the current
 * holding's token or a later grant's, and every token granted so far is at most the floor (the
 * current holding's, if it has one). A token at or below the floor (below, while held) can no
 * longer appear, so the branch is dead: this ends a wrong branch at once instead of after every
 * way of shuffling the lost operations has been tried.
 */
function tokensStillPossible(state: LockModelState, lowestTokenAhead: number): boolean {
  return state.holder === null
    ? lowestTokenAhead > state.tokenFloor
    : lowestTokenAhead >= state.tokenFloor;
}

function byCallTime(left: Operation, right: Operation): number {
  return left.callMs - right.callMs || left.id - right.id;
}

class LinearizationSearch {
  readonly #entries: readonly Operation[];
  readonly #isUnknown: readonly boolean[];
  readonly #unknownIndexes: readonly number[];
  /** The lost acquires, and the lost operations of each owner ('' for none), in call order. */
  readonly #lostAcquires: readonly number[];
  readonly #lostByOwner: ReadonlyMap<string, readonly number[]>;
  readonly #unknownClasses: UnknownClasses;
  readonly #classWeights: readonly { readonly first: number; readonly second: number }[];
  readonly #linearized: Uint8Array;
  readonly #definiteTotal: number;
  /** For each index, the lowest token shown by a definite operation at that index or later. */
  readonly #lowestTokenFrom: readonly number[];
  readonly #options: SearchOptions;
  readonly #visited = new Set<string>();
  #deepest: Frame | undefined;

  constructor(operations: readonly Operation[], options: SearchOptions) {
    // A lost check changed nothing, so it can always be left out.
    const relevant = operations.filter(
      (operation) => operation.outcome.type !== 'unknown' || operation.kind !== 'check',
    );
    this.#entries = [...relevant].sort(byCallTime);
    this.#isUnknown = this.#entries.map((operation) => operation.outcome.type === 'unknown');
    this.#unknownIndexes = this.#isUnknown.flatMap((unknown, index) => (unknown ? [index] : []));
    this.#lostAcquires = this.#unknownIndexes.filter(
      (index) => this.#entries[index]?.kind === 'acquire',
    );
    this.#lostByOwner = groupByOwner(this.#entries, this.#unknownIndexes);
    this.#unknownClasses = classifyUnknown(this.#entries, this.#isUnknown);
    this.#classWeights = classWeights(this.#unknownClasses.count);
    this.#linearized = new Uint8Array(this.#entries.length);
    this.#definiteTotal = this.#entries.length - this.#unknownIndexes.length;
    this.#lowestTokenFrom = lowestTokensFrom(this.#entries);
    this.#options = options;
  }

  run(): SearchResult {
    const root = this.#enter(null, -1, initialLockState);
    if (root === 'done') return this.#result('linearizable');
    if (root === 'bounded') return this.#stopped('inconclusive');
    const stack: Frame[] = root === 'seen' ? [] : [root];
    while (stack.length > 0) {
      const frame = stack.at(-1);
      if (frame === undefined) break;
      const successor = frame.successors.next().value;
      if (successor === undefined) {
        stack.pop();
        if (frame.appliedIndex >= 0) this.#linearized[frame.appliedIndex] = 0;
        continue;
      }
      this.#linearized[successor.index] = 1;
      const child = this.#enter(frame, successor.index, successor.state);
      if (child === 'done') return this.#result('linearizable');
      if (child === 'bounded') return this.#stopped('inconclusive');
      if (child === 'seen') this.#linearized[successor.index] = 0;
      else stack.push(child);
    }
    return this.#stopped('not-linearizable');
  }

  /** Makes the node reached by linearizing `appliedIndex` (already marked) from `parent`. */
  #enter(
    parent: Frame | null,
    appliedIndex: number,
    state: LockModelState,
  ): Frame | 'done' | 'seen' | 'bounded' {
    const appliedDefinite = appliedIndex >= 0 && this.#isUnknown[appliedIndex] === false;
    const definiteLinearized = (parent?.definiteLinearized ?? 0) + (appliedDefinite ? 1 : 0);
    if (definiteLinearized === this.#definiteTotal) return 'done';
    const firstPending =
      parent === null || appliedIndex !== parent.firstPending
        ? (parent?.firstPending ?? this.#nextPending(0))
        : this.#nextPending(appliedIndex + 1);
    const lostSums = this.#lostSumsAfter(parent, appliedIndex, appliedDefinite);
    const window = this.#window(firstPending, state, lostSums);
    const chainStart = parent === null || appliedDefinite ? state : parent.chainStart;
    const delayed = parent === null || appliedDefinite ? undefined : this.#entries[appliedIndex];
    if (delayed !== undefined && this.#chainGainsNothing(chainStart, state, window)) return 'seen';
    if (
      !this.#claim(window, parent === null || appliedDefinite ? undefined : parent, appliedIndex)
    ) {
      return 'seen';
    }
    const tokensPossible = tokensStillPossible(state, window.lowestTokenAhead);
    const lostFrom = delayed === undefined ? undefined : parent?.state;
    const frame: Frame = {
      parent,
      appliedIndex,
      state,
      firstPending,
      definiteLinearized,
      chainStart,
      lostSums,
      candidates: window.candidates,
      horizonIndex: window.horizonIndex,
      unreachableToken: tokensPossible ? undefined : window.lowestTokenAhead,
      successors: tokensPossible
        ? this.#successorsAfter(state, window, delayed, lostFrom)
        : [].values(),
    };
    if (this.#deepest === undefined || definiteLinearized > this.#deepest.definiteLinearized) {
      this.#deepest = frame;
    }
    return this.#visited.size > this.#options.maxSearchStates ? 'bounded' : frame;
  }

  /**
   * Whether a chain of lost operations ends in a state no better than where it began, or than the
   * end of the lease it began with: then leaving them all out does at least as well.
   */
  #chainGainsNothing(chainStart: LockModelState, state: LockModelState, window: Window): boolean {
    if (dominates(chainStart, state)) return true;
    const tolerance = this.#options.clockToleranceMs;
    const expiredStart = expireBefore(chainStart, window.horizonMs, tolerance);
    return expiredStart !== undefined && dominates(expiredStart, state);
  }

  /**
   * Records the node in the memo; false if it was visited before. After a lost operation only some
   * steps are tried, and which depends on the state before it: such a node (`lostFrom` is the
   * node the lost operation was applied in) has a key of its own, and is also covered by a full
   * visit of its plain key.
   */
  #claim(window: Window, lostFrom: Frame | undefined, appliedIndex: number): boolean {
    if (this.#visited.has(window.key)) return false;
    if (lostFrom === undefined) {
      this.#visited.add(window.key);
      return true;
    }
    const lostClass = this.#unknownClassOf(appliedIndex, lostFrom.state);
    const restrictedKey = `${window.key}|after ${lostClass} from ${stateKey(lostFrom.state)}`;
    if (this.#visited.has(restrictedKey)) return false;
    this.#visited.add(restrictedKey);
    return true;
  }

  #unknownClassOf(index: number, state: LockModelState): number {
    const isStale = (this.#entries[index]?.callMs ?? 0) <= state.clockMs;
    return (isStale ? this.#unknownClasses.stale[index] : this.#unknownClasses.fresh[index]) ?? -1;
  }

  #nextPending(from: number): number {
    let index = from;
    while (index < this.#entries.length && (this.#isUnknown[index] || this.#linearized[index])) {
      index++;
    }
    return index;
  }

  /**
   * Scans the definite operations from the first pending one while they were called before the
   * earliest return among them (the horizon). Every operation linearized so far lies before the
   * horizon too (the horizon only grows), so the scan also yields the exact memo key.
   */
  #window(
    firstPending: number,
    state: LockModelState,
    lostSums: readonly [number, number],
  ): Window {
    let horizonMs = Number.POSITIVE_INFINITY;
    let horizonIndex = firstPending;
    const candidates: number[] = [];
    const linearizedAhead: number[] = [];
    let lowestTokenAhead = Number.POSITIVE_INFINITY;
    let index = firstPending;
    for (; index < this.#entries.length; index++) {
      const operation = this.#entries[index];
      if (operation === undefined || operation.callMs > horizonMs) break;
      if (this.#isUnknown[index]) continue;
      if (this.#linearized[index]) {
        linearizedAhead.push(index);
        continue;
      }
      candidates.push(index);
      lowestTokenAhead = Math.min(lowestTokenAhead, tokenShown(operation));
      if (operation.returnMs < horizonMs) {
        horizonMs = operation.returnMs;
        horizonIndex = index;
      }
    }
    // Past the window nothing is linearized yet.
    lowestTokenAhead = Math.min(lowestTokenAhead, this.#lowestTokenFrom[index] ?? lowestTokenAhead);
    const lostTaken = `${lostSums[0].toString(36)}.${lostSums[1].toString(36)}`;
    const key = `${firstPending}|${linearizedAhead.join(',')}|${lostTaken}|${stateKey(state)}`;
    return { candidates, horizonMs, horizonIndex, lowestTokenAhead, key };
  }

  /**
   * The memo's record of the lost operations taken: a multiset of their classes, kept as two
   * independent 52-bit sums of random weights per class. A list would make keys grow with the
   * history; two different multisets collide with probability about 2^-104.
   */
  #lostSumsAfter(
    parent: Frame | null,
    appliedIndex: number,
    appliedDefinite: boolean,
  ): readonly [number, number] {
    const sums = parent?.lostSums ?? [0, 0];
    if (parent === null || appliedDefinite) return sums;
    const weights = this.#classWeights[this.#unknownClasses.fresh[appliedIndex] ?? -1];
    return [
      (sums[0] + (weights?.first ?? 0)) % twoToThe52,
      (sums[1] + (weights?.second ?? 0)) % twoToThe52,
    ];
  }

  /**
   * The lost operations called by the horizon that could take effect in `state`, the latest call
   * first: a recent lost operation is a far likelier explanation than one from long ago.
   */
  *#lostCandidates(state: LockModelState, horizonMs: number): Generator<number> {
    const holder = state.holder;
    const pool =
      holder === null ? this.#lostAcquires : (this.#lostByOwner.get(holder.owner ?? '') ?? []);
    let low = 0;
    let high = pool.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const callMs = this.#entries[pool[middle] ?? -1]?.callMs ?? Number.POSITIVE_INFINITY;
      if (callMs <= horizonMs) low = middle + 1;
      else high = middle;
    }
    for (let position = low - 1; position >= 0; position--) {
      const index = pool[position];
      if (index !== undefined && !this.#linearized[index]) yield index;
    }
  }

  /** The steps from a node; after a lost operation, only those that do not commute with it. */
  *#successorsAfter(
    state: LockModelState,
    window: Window,
    delayed: Operation | undefined,
    lostFrom: LockModelState | undefined,
  ): Generator<Successor> {
    for (const successor of this.#successors(state, window)) {
      const skip =
        delayed !== undefined &&
        lostFrom !== undefined &&
        this.#commutes(delayed, lostFrom, successor, window.horizonMs);
      if (!skip) yield successor;
    }
  }

  *#successors(state: LockModelState, window: Window): Generator<Successor> {
    for (const index of window.candidates) {
      // Changes nothing and fits: take it now and nothing else (see the module comment).
      if (this.#apply(state, index) === state) {
        yield { index, expiredFirst: false, state };
        return;
      }
    }
    const expired = expireBefore(state, window.horizonMs, this.#options.clockToleranceMs);
    const starts = expired === undefined ? [state] : [state, expired];
    // After an expiry, likewise: an operation that then changes nothing may as well come first.
    const readOnlyAfterExpiry =
      expired === undefined
        ? undefined
        : window.candidates.find((index) => this.#apply(expired, index) === expired);
    // The earliest-returning operations first: they are the most constrained.
    const byReturn = [...window.candidates].sort(
      (left, right) => (this.#entries[left]?.returnMs ?? 0) - (this.#entries[right]?.returnMs ?? 0),
    );
    // Before ending a lease, try everything that keeps it: an expiry is rarely the explanation.
    for (const from of starts) {
      if (from !== state && readOnlyAfterExpiry !== undefined) {
        yield { index: readOnlyAfterExpiry, expiredFirst: true, state: from };
        continue;
      }
      for (const index of byReturn) {
        const after = this.#apply(from, index);
        if (after !== undefined) yield { index, expiredFirst: from !== state, state: after };
      }
    }
    // Lost operations last: a valid history rarely needs them, and they multiply the branches.
    for (const from of starts) {
      if (from !== state && readOnlyAfterExpiry !== undefined) continue;
      yield* this.#unknownSuccessors(from, from !== state, window, expired !== undefined);
    }
  }

  /**
   * The lost operations that may take effect next, leaving out those that cannot help: a second
   * one of a class already tried here; a release when the lease may end anyway; a renewal that
   * only makes the lease end later.
   */
  *#unknownSuccessors(
    from: LockModelState,
    expiredFirst: boolean,
    window: Window,
    mayExpire: boolean,
  ): Generator<Successor> {
    const classesTried = new Set<number>();
    for (const index of this.#lostCandidates(from, window.horizonMs)) {
      const unknownClass = this.#unknownClassOf(index, from);
      if (classesTried.has(unknownClass)) continue;
      const after = this.#apply(from, index);
      if (after === undefined) continue;
      if (after.holder === null && mayExpire) continue;
      if (onlyLengthensLease(from, after)) continue;
      classesTried.add(unknownClass);
      yield { index, expiredFirst, state: after };
    }
  }

  /**
   * Whether the lost operation `delayed`, just applied to `before`, commutes with `step`: taking
   * the step alone, or the step first and `delayed` after, ends in a state that allows at least as
   * much. Then the search need not take `delayed` here (see the module comment).
   */
  #commutes(
    delayed: Operation,
    before: LockModelState,
    step: Successor,
    horizonMs: number,
  ): boolean {
    // An expiry right after `delayed` may end the lease `delayed` set: then try the step without it.
    const starts = step.expiredFirst
      ? [expireBefore(before, horizonMs, this.#options.clockToleranceMs), before]
      : [before];
    for (const start of starts) {
      const stepFirst = start === undefined ? undefined : this.#apply(start, step.index);
      if (stepFirst === undefined) continue;
      // The step alone does as well: `delayed` can be left out (a renewal the release then undoes).
      if (dominates(stepFirst, step.state)) return true;
      const swapped = applyUnknownEffect(stepFirst, delayed);
      if (swapped !== undefined && dominates(swapped, step.state)) return true;
    }
    return false;
  }

  /** The state after operation `index` (its definite answer, or its effect if the answer was lost). */
  #apply(state: LockModelState, index: number): LockModelState | undefined {
    const operation = this.#entries[index];
    if (operation === undefined) return undefined;
    return this.#isUnknown[index]
      ? applyUnknownEffect(state, operation)
      : applyDefinite(state, operation);
  }

  /** The remaining operation that shows the token that stopped the deepest branch, if one did. */
  #unreachable(
    deepest: Frame,
    linearized: readonly Operation[],
  ): DeepestPoint['unreachable'] | undefined {
    const token = deepest.unreachableToken;
    if (token === undefined) return undefined;
    const taken = new Set(linearized.map((operation) => operation.id));
    const shownBy = this.#entries.find(
      (operation) => !taken.has(operation.id) && tokenShown(operation) === token,
    );
    return shownBy === undefined ? undefined : { token, shownBy };
  }

  #result(kind: 'linearizable'): SearchResult {
    return { kind, searchStates: this.#visited.size };
  }

  #stopped(kind: 'inconclusive' | 'not-linearizable'): SearchResult {
    const deepest = this.#deepest;
    const stuck = deepest === undefined ? undefined : this.#entries[deepest.horizonIndex];
    if (deepest === undefined || stuck === undefined) {
      throw new Error('the search stopped without visiting a state: a bug in the checker');
    }
    const linearized: Operation[] = [];
    for (let frame: Frame | null = deepest; frame !== null; frame = frame.parent) {
      const operation = this.#entries[frame.appliedIndex];
      if (operation !== undefined) linearized.push(operation);
    }
    linearized.reverse();
    const candidates = deepest.candidates.flatMap((index) => this.#entries[index] ?? []);
    const unreachable = this.#unreachable(deepest, linearized);
    return {
      kind,
      searchStates: this.#visited.size,
      deepest: {
        linearized,
        state: deepest.state,
        candidates,
        stuck,
        ...(unreachable === undefined ? {} : { unreachable }),
      },
    };
  }
}
