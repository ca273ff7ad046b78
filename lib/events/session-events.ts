import { HttpException, Injectable, InternalServerErrorException, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { describeError } from '../util/describe-error.js';
import { Subject, type Observable } from 'rxjs';
import { GuardedObservable } from './guarded-observable.js';
import type { SessionEvent, SessionEventInit, SessionEventOf, SessionEventType } from './session-event.js';

/** A hook for one event type; awaited before the request goes on. */
export type SessionEventHook<K extends SessionEventType = SessionEventType> = (event: SessionEventOf<K>) => unknown;

/** The event bus: awaited hooks first, in registration order, then the `sessionEvents$` stream. */
@Injectable()
export class SessionEvents implements OnApplicationShutdown {
  private readonly logger = new Logger('SessionEvents');
  private readonly subject = new Subject<SessionEvent>();
  private readonly hooks = new Map<SessionEventType, SessionEventHook[]>();

  /** Every event, to any number of subscribers; a subscriber that throws is logged and cannot crash the process. */
  readonly stream$: Observable<SessionEvent> = new GuardedObservable<SessionEvent>(
    (error) => this.logger.error(`A sessionEvents$ subscriber failed: ${describeError(error)}`),
    (subscriber) => {
      const subscription = this.subject.subscribe(subscriber);
      return () => subscription.unsubscribe();
    },
  );

  addHook<K extends SessionEventType>(type: K, hook: SessionEventHook<K>): void {
    const list = this.hooks.get(type) ?? [];
    list.push(hook as unknown as SessionEventHook);
    this.hooks.set(type, list);
  }

  /** True when anything listens to `type`, so that callers can skip building the event. */
  wants(type: SessionEventType): boolean {
    return this.subject.observed || this.hooks.has(type);
  }

  /** True when anything listens at all. */
  active(): boolean {
    return this.subject.observed || this.hooks.size > 0;
  }

  /**
   * Runs the hooks of the event's type one after the other, then publishes it. A hook that throws stops the chain:
   * an HttpException goes on as it is, anything else becomes a 500 that names the event.
   */
  async emit(init: SessionEventInit): Promise<void> {
    if (!this.wants(init.type)) return;
    const event = { ...init, at: new Date() } as SessionEvent;
    const hooks = this.hooks.get(event.type);
    if (hooks !== undefined) {
      for (const hook of hooks) {
        try {
          await hook(event);
        } catch (error) {
          this.logger.error(`A hook for '${event.type}' failed: ${describeError(error)}`);
          if (error instanceof HttpException) throw error;
          throw new InternalServerErrorException(`A session hook for '${event.type}' failed`);
        }
      }
    }
    this.subject.next(event);
  }

  /** Like {@link emit}, for events outside any request (timers, other servers): failures are only logged. */
  emitDetached(init: SessionEventInit): Promise<void> {
    return this.emit(init).catch(() => undefined);
  }

  onApplicationShutdown(): void {
    this.subject.complete();
  }
}
