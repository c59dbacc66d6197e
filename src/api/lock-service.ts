import type { AcquireResult, ReleaseResult } from '../locks/commands.js';

/**
 * What the HTTP layer needs from the node. Writes resolve only once the change is committed and
 * applied. Failures are thrown as LockdError (src/errors.ts), e.g. LOCKD_ERR_NO_LEADER.
 */
export interface LockService {
  acquire(name: string): Promise<AcquireResult>;
  release(name: string): Promise<ReleaseResult>;
  isLocked(name: string): Promise<boolean>;
}
