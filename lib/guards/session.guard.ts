import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ProcessRegistry } from '../context/process-registry.js';
import type { Eventually, LiveSession, RequestContext } from '../context/request-context.js';
import { SessionContext } from '../context/session-context.js';
import { CONNECTED, type ConnectedOptions } from '../decorators/connected.decorator.js';
import { SessionEvents } from '../events/session-events.js';
import { NotConnectedException } from '../exceptions/not-connected.exception.js';
import { SessionStoreUnavailableException } from '../exceptions/session-store-unavailable.exception.js';
import { isFresh } from '../session/session-freshness.js';
import { hasGroups, SessionGroups } from '../session/session-groups.js';
import { actorOf } from '../session/record-fields.js';
import { NO_STORE } from '../session/session-cookie.js';
import { SessionResolver } from '../session/session-resolver.js';
import type { ResolvedSessionPolicy } from '../session-policy.js';
import { SESSION_POLICY } from '../session.tokens.js';
import { CsrfCheck } from './csrf-check.js';

/**
 * Installed globally by `SessionModule`: runs the per-request pipeline (docs/ARCHITECTURE.md) on every handler (session
 * check, `request`, `start-process`, the CSRF check, then the `@Connected` decision and its events). It reads the
 * context that the request's transport opened and knows nothing of transports: a refusal is whatever
 * `transport.refuse(code)` gives.
 */
@Injectable()
export class SessionGuard implements CanActivate {
  /**
   * `@Connected`'s options by handler, read once: metadata is set when classes are defined, and reading it through
   * the Reflector on every request (two look-ups up the prototype chains, two arrays) cost more than the rest of the
   * guard. Keyed by handler with its class beside it, since an inherited method is one handler under two classes.
   */
  private readonly optionsByHandler = new WeakMap<object, { readonly type: object; readonly options: ConnectedOptions | undefined }>();

  constructor(
    private readonly reflector: Reflector,
    private readonly resolver: SessionResolver,
    private readonly groups: SessionGroups,
    private readonly events: SessionEvents,
    private readonly context: SessionContext,
    private readonly processes: ProcessRegistry,
    private readonly csrf: CsrfCheck,
    @Inject(SESSION_POLICY) private readonly policy: ResolvedSessionPolicy,
  ) {}

  canActivate(execution: ExecutionContext): Promise<boolean> | boolean {
    const options = this.optionsOf(execution);
    const context = this.context.current();
    if (context === undefined) {
      // No transport of this library carried the request (a gateway without the session adapters, a microservice).
      if (options === undefined) return true;
      throw new NotConnectedException();
    }
    const handler = execution.getType();
    const admitted = this.admit(context, options, handler, this.csrf.applies(context.transport, execution));
    if (!(admitted instanceof Promise)) return admitted;
    // A sick store only ever reaches here as a rejection (admit turns a throwing read into one).
    return admitted.catch((error: unknown) => {
      throw error instanceof SessionStoreUnavailableException
        ? context.transport.refuse('store_unavailable', error.message, handler)
        : error;
    });
  }

  /**
   * The pipeline for one request or message. Synchronous in the common case (the session is known at once, nobody
   * listens to events, no groups to look up), since Nest then needs no promise either.
   */
  private admit(
    context: RequestContext,
    options: ConnectedOptions | undefined,
    handler: string,
    csrf: boolean,
  ): Promise<boolean> | boolean {
    let found: Eventually<LiveSession | undefined>;
    try {
      found = this.resolver.currentNow(context);
    } catch (error) {
      found = Promise.reject(error);
    }
    if (found instanceof Promise || this.events.active() || hasGroups(options)) {
      return this.admitWithAwaits(context, options, found, handler, csrf);
    }
    if (context.processId !== undefined) this.processes.isNew(context.processId);
    const forged = csrf ? this.csrf.refusal(context.transport, found) : undefined;
    if (forged !== undefined) throw context.transport.refuse('csrf', forged, handler);
    if (found?.record.userId !== undefined) {
      this.markPrivate(context);
      if (isStale(found, options)) throw context.transport.refuse('reauthenticate', undefined, handler);
      return true;
    }
    if (options === undefined || options.optional) return true;
    throw context.transport.refuse('unauthenticated', undefined, handler);
  }

  /** The whole pipeline, with its events and group look-ups. */
  private async admitWithAwaits(
    context: RequestContext,
    options: ConnectedOptions | undefined,
    found: Eventually<LiveSession | undefined>,
    handler: string,
    csrf: boolean,
  ): Promise<boolean> {
    let session: LiveSession | undefined;
    try {
      session = await found;
    } catch (error) {
      // A public handler goes on without a session when the store is sick; one that needs it gets the 503.
      if (options !== undefined || !(error instanceof SessionStoreUnavailableException)) throw error;
    }
    const userId = session?.record.userId;
    const process = context.processId;
    const newProcess = process !== undefined && this.processes.isNew(process);
    // With no hook and no subscriber (the common case), no event is built and no extra await is paid.
    const base = this.events.active() ? eventBase(context, session) : undefined;
    if (base !== undefined) {
      await this.events.emit({ type: 'request', ...base });
      if (newProcess) {
        await this.events.emit({ type: 'start-process', ...base, process });
        await this.events.emit(
          userId === undefined
            ? { type: 'start-unconnected-process', ...base, process }
            : { type: 'start-connected-process', ...base, userId },
        );
      }
    }
    // Before the `@Connected` decision, so that a forged request is a CSRF refusal whether or not it has a user.
    const forged = csrf ? this.csrf.refusal(context.transport, session) : undefined;
    if (forged !== undefined) {
      if (base !== undefined) await this.events.emit({ type: 'denied-request', ...base, reason: 'csrf' });
      throw context.transport.refuse('csrf', forged, handler);
    }
    if (userId !== undefined) this.markPrivate(context);
    if (userId === undefined) {
      if (options === undefined || options.optional) {
        if (base !== undefined) await this.events.emit({ type: 'unconnected-request', ...base });
        return true;
      }
      if (base !== undefined) await this.events.emit({ type: 'denied-request', ...base, reason: 'not-connected' });
      throw context.transport.refuse('unauthenticated', undefined, handler);
    }
    if (options !== undefined && hasGroups(options) && !(await this.groups.admits(context, userId, options))) {
      if (base !== undefined) await this.events.emit({ type: 'denied-request', ...base, reason: 'forbidden' });
      throw context.transport.refuse('forbidden', undefined, handler);
    }
    // After the groups: asking for the password again is pointless when the answer would still be 403.
    if (isStale(session, options)) {
      if (base !== undefined) await this.events.emit({ type: 'denied-request', ...base, reason: 'stale-authentication' });
      throw context.transport.refuse('reauthenticate', undefined, handler);
    }
    if (base !== undefined) await this.events.emit({ type: 'connected-request', ...base, userId });
    return true;
  }

  /** The handler's `@Connected` options (the method's over its class's), read once per handler and class. */
  private optionsOf(execution: ExecutionContext): ConnectedOptions | undefined {
    const handler = execution.getHandler();
    const type = execution.getClass();
    if (typeof handler !== 'function') return this.reflector.getAllAndOverride<ConnectedOptions | undefined>(CONNECTED, [handler, type]);
    const known = this.optionsByHandler.get(handler);
    if (known !== undefined && known.type === type) return known.options;
    const options = this.reflector.getAllAndOverride<ConnectedOptions | undefined>(CONNECTED, [handler, type]);
    this.optionsByHandler.set(handler, { type, options });
    return options;
  }

  /** A connected request's answer is private: no cache may keep it (the back button after logout included). */
  private markPrivate(context: RequestContext): true {
    if (this.policy.noStore) context.transport.setHeader(NO_STORE[0], NO_STORE[1]);
    return true;
  }
}

/** A connected session whose login is older than the handler's `fresh` allows. */
function isStale(session: LiveSession | undefined, options: ConnectedOptions | undefined): boolean {
  return session !== undefined && options?.fresh !== undefined && !isFresh(session.record, options.fresh);
}

/** The fields every request event shares. */
function eventBase(context: RequestContext, session: LiveSession | undefined) {
  const userId = session?.record.userId;
  return {
    transport: context.transport.kind,
    ...(userId === undefined ? {} : { userId }),
    ...actorOf(session?.record),
    ...(session === undefined ? {} : { session: session.key }),
    ...(context.processId === undefined ? {} : { process: context.processId }),
  };
}
