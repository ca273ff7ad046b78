import { Logger } from '@nestjs/common';
import { describeError } from '../exceptions/describe-error.js';
import { SessionStoreUnavailableException } from '../exceptions/session-store-unavailable.exception.js';
import type { SessionStore } from './session-store.js';

type Method = {
  [K in keyof SessionStore]-?: NonNullable<SessionStore[K]> extends (...args: never[]) => Promise<unknown> ? K : never;
}[keyof SessionStore];

/** A call still waiting for its store, in the order the calls were made (so also in deadline order). */
interface PendingCall {
  readonly method: string;
  readonly deadline: number;
  readonly reject: (error: unknown) => void;
}

/**
 * Every store call the library makes goes through here: a call that rejects or outlives `storeTimeout` becomes a
 * {@link SessionStoreUnavailableException} (503), so that a sick store is never a hang or a 500.
 *
 * Deadlines are checked by one shared timer (four times per timeout) rather than a timer and a `Promise.race` per
 * call: on the per-request path that is the difference between one allocation and five. A late call is therefore
 * refused between one and one and a quarter timeouts after it started.
 */
export class TimedStore {
  private readonly logger = new Logger('SessionStore');
  private readonly pending = new Set<PendingCall>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly store: SessionStore,
    private readonly timeoutMs: number,
  ) {}

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
    return new Promise<unknown>((resolve, reject) => {
      const call: PendingCall = { method, deadline: Date.now() + this.timeoutMs, reject };
      this.pending.add(call);
      this.timer ??= this.startTimer();
      Promise.resolve(result).then(
        (value) => {
          if (this.pending.delete(call)) resolve(value);
        },
        (error: unknown) => {
          if (this.pending.delete(call)) reject(this.unavailable(method, error));
        },
      );
    }) as ReturnType<NonNullable<SessionStore[M]>>;
  }

  private unavailable(method: string, error: unknown): SessionStoreUnavailableException {
    this.logger.error(`Store call ${method} failed: ${describeError(error)}`);
    return new SessionStoreUnavailableException();
  }

  private startTimer(): NodeJS.Timeout {
    const timer = setInterval(() => this.expire(), Math.max(5, this.timeoutMs / 4));
    // Never keeps the process alive on its own; stopped as soon as nothing waits.
    timer.unref();
    return timer;
  }

  private expire(): void {
    if (this.pending.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    const now = Date.now();
    for (const call of this.pending) {
      if (call.deadline > now) break;
      this.pending.delete(call);
      call.reject(this.unavailable(call.method, new Error(`no answer within ${this.timeoutMs} ms`)));
    }
  }
}
