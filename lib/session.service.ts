import { Injectable } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { SessionContext } from './context/session-context.js';
import type { SessionEvent } from './events/session-event.js';
import { SessionEvents } from './events/session-events.js';
import { CsrfTokens } from './session/csrf-tokens.js';
import { SessionConnection } from './session/session-connection.js';
import { SessionDisconnectAll, type DisconnectAllOptions } from './session/session-disconnect-all.js';
import { SessionImpersonation } from './session/session-impersonation.js';
import { SessionReauthentication } from './session/session-reauthentication.js';
import { SessionValues } from './session/session-values.js';
import type { SessionInfo } from './stores/session-info.js';
import type { SessionKey } from './stores/session-key.js';

/**
 * Everything an application does with sessions. Methods without a `userId` act on the current request's session
 * (found through AsyncLocalStorage, so they work in any handler, interceptor or provider called from one).
 */
@Injectable()
export class SessionService {
  /** Every lifecycle event, typed by `type`; see the README for the order. Subscribers cannot crash the process. */
  readonly sessionEvents$: Observable<SessionEvent>;

  constructor(
    private readonly connection: SessionConnection,
    private readonly everywhere: SessionDisconnectAll,
    private readonly reauthentication: SessionReauthentication,
    private readonly impersonation: SessionImpersonation,
    private readonly data: SessionValues,
    private readonly context: SessionContext,
    private readonly csrf: CsrfTokens,
    events: SessionEvents,
  ) {
    this.sessionEvents$ = events.stream$;
  }

  /**
   * Logs the current browser in as `userId` (after your own authentication): closes its current session, opens a
   * new one with a new id, carries `browser` data over. The cookie persists for `absoluteTimeout` unless
   * `expire: true`, which makes it a browser-session cookie.
   */
  connect(userId: string, options?: { expire?: boolean }): Promise<void> {
    return this.connection.connect(userId, options);
  }

  /** Logs the current browser out: drops its `session` and `process` data and the cookie; `browser` data stays. */
  disconnect(): Promise<void> {
    return this.connection.disconnect();
  }

  /**
   * Closes every session of a user (the current one by default) on every device and server, with their `browser`
   * data (`userIndep` defaults to true, as Os_session's). `userIndep: false` keeps each browser's data under its
   * cookie as an anonymous session: a stolen cookie then still reads and writes it. Works outside requests when
   * `userId` is given. `exceptCurrent: true` keeps the current request's session, its sockets and streams, and
   * closes the user's other sessions (after a password change); it needs a request of a connected session, and a
   * `userId`, if given, must be that session's user. Resolves how many it closed.
   */
  disconnectAll(options?: DisconnectAllOptions): Promise<number> {
    return this.everywhere.disconnectAll(options);
  }

  /**
   * Call it once the user of the current session proved who they are again (your own check of the password): the
   * session goes on under a new id and cookie, with the same user and data, its live clients (sockets, streams,
   * subscriptions) moved along, and `authenticatedAt` now, which `@Connected({ fresh })` handlers look at. The old
   * cookie opens nothing any more. Needs an HTTP request of a connected session (`NotConnectedException` without).
   */
  reauthenticate(): Promise<void> {
    return this.reauthentication.reauthenticate();
  }

  /**
   * Acts as `userId` (support staff looking at what a user sees), for a connected user in one of
   * `policy.impersonation.allow`'s groups: the browser gets a new session and cookie, whose user
   * (`currentUserId()`, `@CurrentUser()`) is `userId` and whose {@link actorId} is the caller. It ends with
   * {@link stopImpersonating}, after `maxDuration` (reason `impersonation-ended`), or like any session of `userId`
   * (`disconnectAll`, `revoke`). It never passes `@Connected({ fresh })`. Refused with `PermissionDeniedException`
   * (403) without `policy.impersonation`, outside `allow`, for a user in `deny`, for oneself and while impersonating;
   * `NotConnectedException` (401) without a connected session. Needs an HTTP request.
   */
  impersonate(userId: string): Promise<void> {
    return this.impersonation.impersonate(userId);
  }

  /**
   * Ends the current impersonation: its session closes (reason `impersonation-ended`) and the actor is connected
   * again under a new id and cookie, with the `authenticatedAt` they had before impersonating (stopping never makes
   * them fresh). `PermissionDeniedException` (403) when the session is not impersonated, `NotConnectedException` (401)
   * without a connected session, or when the actor's sessions were closed meanwhile (`disconnectAll`): the
   * impersonation then ends and the browser is left logged out. Needs an HTTP request.
   */
  stopImpersonating(): Promise<void> {
    return this.impersonation.stopImpersonating();
  }

  /** The connected user of the current request, if any (while impersonating: the user acted as). */
  currentUserId(): string | undefined {
    return this.context.current()?.session?.record.userId;
  }

  /** While impersonating, the real user behind the current request's session; undefined otherwise. */
  actorId(): string | undefined {
    return this.context.current()?.session?.record.actorId;
  }

  /** The value of `key` in its scope for the current request; undefined when absent. */
  get<T>(key: SessionKey<T>): Promise<T | undefined> {
    return this.data.get(key);
  }

  /** Sets the value of `key`; a `browser` key written before login opens an anonymous session. */
  set<T>(key: SessionKey<T>, value: T): Promise<void> {
    return this.data.set(key, value);
  }

  /** Removes the value of `key` (its `onDelete` does not run: only values dropped with a session get that). */
  remove(key: SessionKey<unknown>): Promise<void> {
    return this.data.remove(key);
  }

  /** The live sessions of a user, oldest first; `current` marks the one of this request. */
  listSessions(userId: string): Promise<SessionInfo[]> {
    return this.connection.listSessions(userId);
  }

  /** Closes the session with this handle (from `listSessions()`); unknown handles are ignored. */
  revoke(handle: string): Promise<void> {
    return this.connection.revoke(handle);
  }

  /**
   * A CSRF token of the current session, for the `policy.csrf.header` header of unsafe requests (needed with
   * `policy.csrf.token`). Each call gives another string (masked against BREACH); all of them verify until the
   * session's id changes (login, logout, any rotation), so call it again after `connect()` or `disconnect()`,
   * in the same handler, to hand the page the new session's token. Without a session it gives a token that no
   * session accepts: a request without a session cookie needs none. Throws outside a request.
   */
  csrfToken(): string {
    return this.csrf.issue(this.context.require('csrfToken()').session?.key);
  }
}
