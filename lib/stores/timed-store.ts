import { Logger } from '@nestjs/common';
import { describeError } from '../exceptions/describe-error.js';
import { SessionStoreUnavailableException } from '../exceptions/session-store-unavailable.exception.js';
import type { SessionStore } from './session-store.js';

type Method = {
  [K in keyof SessionStore]-?: NonNullable<SessionStore[K]> extends (...args: never[]) => Promise<unknown> ? K : never;
}[keyof SessionStore];

/**
 * Every store call the library makes goes through here: a call that rejects or outlives `storeTimeout` becomes a
 * {@link SessionStoreUnavailableException} (503), so that a sick store is never a hang or a 500.
 */
export class TimedStore {
  private readonly logger = new Logger('SessionStore');

  constructor(
    readonly store: SessionStore,
    private readonly timeoutMs: number,
  ) {}

  call<M extends Method>(
    method: M,
    ...args: Parameters<NonNullable<SessionStore[M]>>
  ): ReturnType<NonNullable<SessionStore[M]>> {
    const fn = this.store[method] as (...a: unknown[]) => Promise<unknown>;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    let pending: Promise<unknown>;
    try {
      pending = Promise.resolve(fn.apply(this.store, args));
    } catch (error) {
      pending = Promise.reject(error);
    }
    return Promise.race([pending, timeout])
      .catch((error: unknown) => {
        this.logger.error(`Store call ${method} failed: ${describeError(error)}`);
        throw new SessionStoreUnavailableException();
      })
      .finally(() => clearTimeout(timer)) as ReturnType<NonNullable<SessionStore[M]>>;
  }
}
