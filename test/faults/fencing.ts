/**
 * Fencing tokens, checked directly on one lock's granted acquires. Tokens are Raft indexes of the
 * granting entries, so across grants they only grow, and one token is one grant: the same owner
 * re-acquiring the lock it holds gets its token again, nobody else ever gets it.
 */
import type { Operation } from './history.js';

/** A problem found by a direct check, before it is given an excerpt. */
export interface Finding {
  readonly message: string;
  /** The operations that show the problem; the excerpt spans them. */
  readonly involved: readonly Operation[];
}

interface Grant {
  readonly operation: Operation;
  readonly token: number;
  readonly owner: string | null;
}

function grantsOf(operations: readonly Operation[]): Grant[] {
  return operations.flatMap((operation) => {
    const outcome = operation.outcome;
    if (operation.kind !== 'acquire' || outcome.type !== 'ok' || outcome.token === undefined) {
      return [];
    }
    return [{ operation, token: outcome.token, owner: operation.owner ?? null }];
  });
}

function describeGrant(grant: Grant): string {
  return `#${grant.operation.id} (${grant.owner ?? 'anonymous'}, token ${grant.token})`;
}

/** Two different owners (anonymous acquires are all different) granted one token. */
function sharedTokens(grants: readonly Grant[]): Finding[] {
  const firstByToken = new Map<number, Grant>();
  const findings: Finding[] = [];
  for (const grant of grants) {
    const first = firstByToken.get(grant.token);
    if (first === undefined) {
      firstByToken.set(grant.token, grant);
    } else if (first.owner === null || first.owner !== grant.owner) {
      findings.push({
        message: `two owners hold token ${grant.token}: grants ${describeGrant(first)} and ${describeGrant(grant)}`,
        involved: [first.operation, grant.operation],
      });
    }
  }
  return findings;
}

/**
 * A grant called after another returned has a token at least as high. Grants are swept in call
 * order while those that returned before each call are folded into the highest token seen.
 */
function backwardTokens(grants: readonly Grant[]): Finding[] {
  const byCall = [...grants].sort(
    (left, right) =>
      left.operation.callMs - right.operation.callMs || left.operation.id - right.operation.id,
  );
  const byReturn = [...grants].sort(
    (left, right) => left.operation.returnMs - right.operation.returnMs,
  );
  const findings: Finding[] = [];
  let highest: Grant | undefined;
  let returned = 0;
  for (const grant of byCall) {
    for (let next = byReturn[returned]; next !== undefined; next = byReturn[returned]) {
      if (next.operation.returnMs >= grant.operation.callMs) break;
      if (highest === undefined || next.token > highest.token) highest = next;
      returned++;
    }
    if (highest !== undefined && grant.token < highest.token) {
      findings.push({
        message: `token went backwards: grant ${describeGrant(grant)} was called after grant ${describeGrant(highest)} returned, with a lower token`,
        involved: [highest.operation, grant.operation],
      });
    }
  }
  return findings;
}

/**
 * One token on two locks. A token is the index of the log entry that granted it, and an entry
 * grants one lock, so no token may ever be shown for two different locks (a per-lock check cannot
 * see this). Takes the whole history; a finding names both grants.
 */
export function tokensOnSeveralLocks(operations: readonly Operation[]): Finding[] {
  const firstByToken = new Map<number, Grant>();
  const findings: Finding[] = [];
  for (const grant of grantsOf(operations)) {
    const first = firstByToken.get(grant.token);
    if (first === undefined) firstByToken.set(grant.token, grant);
    else if (first.operation.lock !== grant.operation.lock) {
      findings.push({
        message: `token ${grant.token} was granted on two locks: ${first.operation.lock} by ${describeGrant(first)} and ${grant.operation.lock} by ${describeGrant(grant)}`,
        involved: [first.operation, grant.operation],
      });
    }
  }
  return findings;
}

export function checkFencing(operations: readonly Operation[]): Finding[] {
  const grants = grantsOf(operations);
  return [...sharedTokens(grants), ...backwardTokens(grants)];
}
