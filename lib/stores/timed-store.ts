import { Logger } from '@nestjs/common';
import { describeError } from '../util/describe-error.js';
import { SessionStoreUnavailableException } from '../exceptions/session-store-unavailable.exception.js';
import type { SessionRecord } from './session-record.js';
import { Deadlines } from '../util/deadlines.js';
import type { SessionStore } from './session-store.js';

type Method = {
  [K in keyof SessionStore]-?: NonNullable<SessionStore[K]> extends (...args: never[]) => Promise<unknown> ? K : never;
}[keyof SessionStore];

/**
 * Every store call the library makes goes through here: a call that rejects or outlives `storeTimeout` becomes a
 * {@link SessionStoreUnavailableException} (503), so that a sick store is never a hang or a 500.
 * A late call is refused between one and one and a quarter timeouts after it started (one shared timer: see
 * {@link Deadlines}).
 */
export class TimedStore {
  private readonly logger = new Logger('SessionStore');
  private readonly deadlines: Deadlines;

  constructor(
    readonly store: SessionStore,
    timeoutMs: number,
  ) {
    this.deadlines = new Deadlines(timeoutMs);
  }

  call<M extends Method>(
    method: M,
    ...args: Parameters<NonNullable<SessionStore[M]>>
  ): ReturnType<NonNullable<SessionStore[M]>> {
    const fn = this.store[method] as (...a: unknown[]) => Promise<unknown>;
    let result: Promise<unknown>;
    try {
      result = fn.apply(this.store, args);
    } catch (error) {
      return Promise.reject(this.unavailable(method, error)) as ReturnType<NonNullable<SessionStore[M]>>;
    }
    return this.deadlines.bound(Promise.resolve(result), (error) => this.unavailable(method, error)) as ReturnType<
      NonNullable<SessionStore[M]>
    >;
  }

  /**
   * `get`, answered synchronously when the store can `peek` (nothing to time: it cannot wait), so that a request
   * whose session is in this process's memory costs no promise; otherwise the timed `get`.
   */
  read(key: string): SessionRecord | undefined | Promise<SessionRecord | undefined> {
    if (this.store.peek === undefined) return this.call('get', key);
    try {
      return this.store.peek(key);
    } catch (error) {
      return Promise.reject(this.unavailable('get', error));
    }
  }

  private unavailable(method: string, error: unknown): SessionStoreUnavailableException {
    this.logger.error(`Store call ${method} failed: ${describeError(error)}`);
    return new SessionStoreUnavailableException();
  }
}
