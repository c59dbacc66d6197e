/**
 * An in-memory LockService for the API tests: a set of held names, a record of every call, and
 * switches to make calls fail, hang, or answer what the test says.
 */
import type { LockService } from '../../src/api/lock-service.js';
import type { AcquireResult, ReleaseResult } from '../../src/locks/commands.js';

export type ServiceMethod = 'acquire' | 'release' | 'isLocked';

export interface ServiceCall {
  readonly method: ServiceMethod;
  readonly name: string;
}

/** How calls behave: normally, by throwing `error`, by never settling, or by a test's function. */
export type FakeBehaviour =
  | { readonly kind: 'normal' }
  | { readonly kind: 'throw'; readonly error: unknown }
  | { readonly kind: 'hang' }
  | { readonly kind: 'custom'; readonly answer: (call: ServiceCall) => Promise<unknown> };

export class FakeLockService implements LockService {
  readonly held = new Set<string>();
  readonly calls: ServiceCall[] = [];
  behaviour: FakeBehaviour = { kind: 'normal' };
  private nextToken = 1;

  acquire(name: string): Promise<AcquireResult> {
    return this.call({ method: 'acquire', name }, () => {
      if (this.held.has(name)) return { outcome: 'conflict' };
      this.held.add(name);
      return { outcome: 'acquired', token: this.nextToken++ };
    });
  }

  release(name: string): Promise<ReleaseResult> {
    return this.call({ method: 'release', name }, () =>
      this.held.delete(name) ? { outcome: 'released' } : { outcome: 'not-locked' },
    );
  }

  isLocked(name: string): Promise<boolean> {
    return this.call({ method: 'isLocked', name }, () => this.held.has(name));
  }

  private call<T>(call: ServiceCall, normal: () => T): Promise<T> {
    this.calls.push(call);
    const behaviour = this.behaviour;
    switch (behaviour.kind) {
      case 'normal':
        return Promise.resolve(normal());
      case 'throw':
        return Promise.reject(behaviour.error);
      case 'hang':
        return new Promise<T>(() => {});
      case 'custom':
        // The test decides what comes back, including things a real service must never return.
        return behaviour.answer(call) as Promise<T>;
    }
  }
}
