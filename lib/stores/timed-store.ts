import { Logger } from '@nestjs/common';
import { describeError } from '../util/describe-error.js';
import { SessionStoreUnavailableException } from '../exceptions/session-store-unavailable.exception.js';
import type { SessionRecord } from './session-record.js';
import { Deadlines } from '../util/deadlines.js';
import type { SessionStore, StoreRemoval } from './session-store.js';

type Method = {
  [K in keyof SessionStore]-?: NonNullable<SessionStore[K]> extends (...args: never[]) => Promise<unknown> ? K : never;
}[keyof SessionStore];

/**
 * The store as the library uses it, and the one owner of the deadline of every store call made for a request: the
 * policy's `storeTimeout`. A call that rejects or outlives it becomes a {@link SessionStoreUnavailableException}
 * (503), so that a sick store is never a hang or a 500. A missed deadline is logged here, once, naming the method
 * and the limit, and the store is told (`SessionStore.callTimedOut`) so that it can stop waiting on its backend;
 * stores arm no deadline of their own on these calls.
 *
 * A late call is refused between one and one and a quarter timeouts after it started (one shared timer: see
 * {@link Deadlines}). `open`, `close` and `subscribe` pass through untimed: a store bounds its own start and stop.
 */
export class TimedStore {
  private readonly logger = new Logger('SessionStore');
  private readonly deadlines: Deadlines;

  constructor(
    private readonly store: SessionStore,
    private readonly timeoutMs: number,
  ) {
    this.deadlines = new Deadlines(timeoutMs, `no answer within ${timeoutMs} ms (storeTimeout)`);
  }

  /**
   * `method` of the store, within `storeTimeout`; a rejection or a late answer becomes a
   * {@link SessionStoreUnavailableException}.
   */
  call<M extends Method>(method: M, ...args: Parameters<NonNullable<SessionStore[M]>>): ReturnType<NonNullable<SessionStore[M]>> {
    const fn = this.store[method] as (...a: unknown[]) => Promise<unknown>;
    let result: Promise<unknown>;
    try {
      result = fn.apply(this.store, args);
    } catch (error) {
      return Promise.reject(this.unavailable(method, error)) as ReturnType<NonNullable<SessionStore[M]>>;
    }
    return this.deadlines.bound(Promise.resolve(result), (error, late) => this.unavailable(method, error, late)) as ReturnType<
      NonNullable<SessionStore[M]>
    >;
  }

  /**
   * `get`, answered synchronously when the store can `peek`, or has the record `cached` (nothing to time: neither
   * can wait), so that a request whose session is in this process's memory costs no promise; otherwise the timed
   * `get`.
   */
  read(key: string): SessionRecord | undefined | Promise<SessionRecord | undefined> {
    try {
      if (this.store.peek !== undefined) return this.store.peek(key);
      const known = this.store.cached?.(key);
      if (known !== undefined) return known;
    } catch (error) {
      return Promise.reject(this.unavailable('get', error));
    }
    return this.call('get', key);
  }

  /** Whether the store implements `method`, one of the contract's optional ones. */
  supports(method: keyof SessionStore): boolean {
    return typeof this.store[method] === 'function';
  }

  /** The store's `subscribe`: `listener` hears of every session that leaves the store. Returns the unsubscribe. */
  subscribe(listener: (removal: StoreRemoval) => void): () => void {
    return this.store.subscribe(listener);
  }

  /** The store's `open`, if it has one (read a snapshot, connect). */
  async open(): Promise<void> {
    await this.store.open?.();
  }

  /** The store's `close`, if it has one (write a snapshot, stop timers, disconnect). */
  async close(): Promise<void> {
    await this.store.close?.();
  }

  private unavailable(method: string, error: unknown, late = false): SessionStoreUnavailableException {
    if (late) this.timedOut(method);
    else this.logger.error(`Store call ${method} failed: ${describeError(error)}`);
    return new SessionStoreUnavailableException();
  }

  private timedOut(method: string): void {
    this.logger.error(`Store call ${method} had no answer within ${this.timeoutMs} ms (storeTimeout)`);
    try {
      this.store.callTimedOut?.(method);
    } catch (error) {
      this.logger.error(`The store failed on being told of a missed deadline: ${describeError(error)}`);
    }
  }
}
