/**
 * The history of a fault run: every operation a client made, with when it was called, when it
 * returned (on the runner's monotonic clock, in milliseconds since the run started) and what it
 * answered. The runner writes it; the checker reads it. Operations are on exclusive locks only.
 */

export type OperationKind = 'acquire' | 'refresh' | 'release' | 'check';

/**
 * What an operation answered:
 * - `ok`: acquire granted (`token`, `expiresAt`), refresh renewed (`token`, `expiresAt`), release
 *   released, or check found the lock held (`holder`, `token`).
 * - `fail`: a definite answer that changed nothing: acquire 409 (held by another), refresh or
 *   release 404 (not locked) or 409 (held by another owner), check 404 (free). `code` is the
 *   `Lockd-Error-Code` header, e.g. `LOCKD_ERR_LOCK_CONFLICT`, `LOCKD_ERR_NOT_LOCKED`.
 * - `unknown`: a time-out, a 5xx or a broken connection: the operation may or may not have taken
 *   effect, at any time after it was called (even after the run ends).
 */
export type Outcome =
  | {
      readonly type: 'ok';
      /** The fencing token of the grant (acquire, refresh) or of the holder found (check). */
      readonly token?: number;
      /** The owner a check found holding the lock. */
      readonly holder?: string;
      /** The lease's end on the leader's wall clock (Unix ms), for acquire and refresh with ttl. */
      readonly expiresAt?: number;
    }
  | { readonly type: 'fail'; readonly status: number; readonly code: string }
  | { readonly type: 'unknown'; readonly reason: string };

export interface Operation {
  /** Unique in the history, in order of call. */
  readonly id: number;
  /** The client process that made it; a client makes one operation at a time. */
  readonly client: number;
  /** The node whose HTTP port it was sent to. */
  readonly node: number;
  readonly kind: OperationKind;
  readonly lock: string;
  /** Every client uses its own owner names; check has none. */
  readonly owner?: string;
  /** acquire and refresh: the lease asked for (absent: no lease). */
  readonly ttlMs?: number;
  /** acquire: how long it may queue. */
  readonly waitMs?: number;
  /** Runner's monotonic clock, ms since the run started. */
  readonly callMs: number;
  /** When the answer arrived; for `unknown`, when the runner gave up (the effect may be later). */
  readonly returnMs: number;
  readonly outcome: Outcome;
}

/** What the nemesis did, for the report and for the excerpt a violation prints. */
export interface FaultEvent {
  readonly atMs: number;
  readonly kind: string;
  readonly description: string;
}

export interface History {
  readonly seed: number;
  readonly nodes: number;
  readonly operations: readonly Operation[];
  readonly faults: readonly FaultEvent[];
  /** Run start on the wall clock (Unix ms): `callMs + startedAtUnixMs` compares with `expiresAt`. */
  readonly startedAtUnixMs: number;
}
