/** The lockd client: `new LockdClient({ endpoints })`. */
export type {
  Grant,
  HolderView,
  ListResult,
  LockEvent,
  LockEventType,
  LockMode,
  LockSummary,
  LockView,
  WaiterView,
} from '../api/lock-service.js';
export {
  type AcquireOptions,
  LockdClient,
  type LockdClientOptions,
  type WatchOptions,
} from './client.js';
export * from './errors.js';
export { HeldLock, safetyMarginMs } from './held-lock.js';
