import { Inject, Injectable } from '@nestjs/common';
import type { LiveSession, RequestContext } from '../context/request-context.js';
import { SessionContext } from '../context/session-context.js';
import type { SessionEventReason } from '../events/session-event.js';
import { SessionEvents } from '../events/session-events.js';
import type { ResolvedSessionPolicy } from '../session-policy.js';
import { SESSION_POLICY } from '../session.tokens.js';
import { sessionInfo, type SessionInfo } from '../stores/session-info.js';
import { LONE_SURROGATE } from '../stores/session-record.js';
import { TimedStore } from '../stores/timed-store.js';
import { describeError } from '../util/describe-error.js';
import { LocalValues, type DroppedValue } from './local-values.js';
import { actorOf, browserFields } from './record-fields.js';
import { SessionCloser } from './session-closer.js';
import { SessionCookie } from './session-cookie.js';
import { isSessionIdShape } from './session-id.js';
import { SessionLog } from './session-log.js';
import { SessionOpener, type OpenOptions } from './session-opener.js';
import { SessionResolver } from './session-resolver.js';

const MAX_USER_ID = 256;

/**
 * Connecting and disconnecting users (Os_session): `connect`, `disconnect`, and the session list with `revoke`
 * (`disconnectAll` is in session-disconnect-all.ts). Every change opens through {@link SessionOpener} and closes through {@link SessionCloser}.
 */
@Injectable()
export class SessionConnection {
  constructor(
    @Inject(SESSION_POLICY) private readonly policy: ResolvedSessionPolicy,
    private readonly context: SessionContext,
    private readonly resolver: SessionResolver,
    private readonly opener: SessionOpener,
    private readonly closer: SessionCloser,
    private readonly store: TimedStore,
    private readonly locals: LocalValues,
    private readonly cookie: SessionCookie,
    private readonly events: SessionEvents,
    private readonly log: SessionLog,
  ) {}

  /**
   * `connect()`: opens a session for `userId` with a new id, then closes the current one and moves its browser data
   * over. The new record is written first, so that a store failing half-way loses neither the old session nor its
   * data; a login whose hooks fail is undone as a logout would be.
   */
  async connect(userId: string, options: { expire?: boolean } = {}): Promise<void> {
    const context = requireCookies(this.context.require('connect()'), 'connect()');
    assertUserId(userId, 'connect()');
    const current = await this.resolver.current(context);
    const session = await this.openInstead(context, current, userId, 'login', options);
    // Best effort: the login has happened; a failure here must not answer as if it had not.
    await this.enforceMaxSessions(userId, session.key).catch((error: unknown) => {
      this.log.error(`Closing the oldest sessions past maxSessionsPerUser: ${describeError(error)}`);
    });
  }

  /**
   * The steps of a login, for `connect()` and the engine's other ones (`impersonate()`, `stopImpersonating()`): a
   * session for `userId` under a new id, then the current one closed (`reason`) with its browser data moved over,
   * the cookie, `open-session` and `start-connected-process`.
   */
  async openInstead(
    context: RequestContext,
    current: LiveSession | undefined,
    userId: string,
    reason: SessionEventReason,
    options: OpenOptions,
  ): Promise<LiveSession> {
    const next = await this.opener.create(context, userId, current === undefined ? {} : browserFields(current.record), options);
    let moved: DroppedValue[] = [];
    if (current !== undefined) {
      try {
        moved = await this.closer.close(current.key, current.record, reason, context.transport.kind, { moveBrowser: true });
      } catch (error) {
        // The copy of the browser data in `next` is not a value leaving: no onDelete (the store reports nothing
        // for its own destroy).
        await this.store.call('destroy', next.key).catch(() => undefined);
        throw error;
      }
    }
    // A session that ends before the policy's absolute timeout (an impersonation) gets a cookie that ends with it.
    const maxAgeMs =
      options.expire === true
        ? undefined
        : options.endsAt === undefined
          ? this.policy.absoluteTimeoutMs
          : next.record.absoluteExpiresAt - Date.now();
    const session = this.opener.handOver(context, next, moved, maxAgeMs);
    const base = { transport: context.transport.kind, userId, ...actorOf(session.record), session: session.key, ...processOf(context) };
    try {
      await this.events.emit({ type: 'open-session', ...base });
      await this.events.emit({ type: 'start-connected-process', ...base });
    } catch (error) {
      await this.endConnected(context, session, reason, false).catch((undo: unknown) => {
        this.log.error(`Undoing a login whose hook failed: ${describeError(undo)}`);
        context.adopt(undefined);
        this.cookie.clear(context.transport);
      });
      throw error;
    }
    return session;
  }

  /** `disconnect()`: closes the current session; browser data stays, under a new anonymous session. */
  async disconnect(): Promise<void> {
    const context = this.context.require('disconnect()');
    const current = await this.resolver.current(context);
    // Nothing connected: idempotent. A cookie that named nothing was expired by the failed check already.
    if (current?.record.userId !== undefined) await this.endConnected(context, current, 'logout', true);
  }

  /**
   * Ends a connected session of the request. Its browser data, if any, goes to a new anonymous session written
   * before the old one closes (so a store failing half-way loses nothing); otherwise the cookie is expired.
   */
  private async endConnected(context: RequestContext, current: LiveSession, reason: SessionEventReason, announce: boolean): Promise<void> {
    const { kind } = context.transport;
    if (!context.transport.canSetCookies) {
      // A WebSocket message cannot hand the browser a new cookie: its browser data stays under the cookie it has,
      // in an anonymous record under the same key (as after disconnectAll).
      const moved = await this.closer.close(current.key, current.record, reason, kind, { moveBrowser: true, announce });
      const kept = await this.opener.keepBrowserData(current.key, current.record, moved);
      if (kept === undefined) await this.closer.runOnDeletes(moved, []);
      context.adopt(kept);
      return;
    }
    const data = browserFields(current.record);
    const keeps = Object.keys(data).length > 0 || this.locals.hasBrowser(current.key);
    const next = keeps ? await this.opener.create(context, undefined, data) : undefined;
    let moved: DroppedValue[];
    try {
      moved = await this.closer.close(current.key, current.record, reason, kind, { moveBrowser: keeps, announce });
    } catch (error) {
      if (next !== undefined) await this.store.call('destroy', next.key).catch(() => undefined);
      throw error;
    }
    if (next !== undefined) {
      this.opener.handOver(context, next, moved, this.policy.absoluteTimeoutMs);
    } else {
      context.adopt(undefined);
      this.cookie.clear(context.transport);
    }
  }

  /** Closes the session with this handle (from `listSessions()`); nothing happens for an unknown handle. */
  async revoke(handle: string): Promise<void> {
    if (typeof handle !== 'string' || !isSessionIdShape(handle)) return;
    const record = await this.store.call('get', handle);
    if (record === undefined) return;
    const context = this.context.current();
    await this.closer.close(handle, record, 'revoked', context?.transport.kind ?? 'http');
    if (context !== undefined && context.session?.key === handle) {
      context.adopt(undefined);
      this.cookie.clear(context.transport);
    }
  }

  async listSessions(userId: string): Promise<SessionInfo[]> {
    const currentKey = this.context.current()?.session?.key;
    const sessions = await this.store.call('listUser', userId);
    return sessions.map(([key, record]) => sessionInfo(key, record, key === currentKey));
  }

  /**
   * After a login: closes the user's oldest sessions past `maxSessionsPerUser` (reason `max-sessions`). On a store
   * that trims in one step (`trimUser`), logins that race close no more than the bound asks, together, and the
   * newest sessions stay: a login's own session goes only when the bound's worth of newer ones exist (logins that
   * raced it and came later), and the request is then left unconnected with its cookie expired, as after a revoke.
   * Other stores are trimmed session by session, never the login's own.
   */
  private async enforceMaxSessions(userId: string, keep: string): Promise<void> {
    const max = this.policy.maxSessionsPerUser;
    const sessions = await this.store.call('listUser', userId);
    if (sessions.length <= max) return;
    if (this.store.supports('trimUser')) {
      const closed = await this.closer.trim(userId, sessions.slice(0, sessions.length - max), max, 'max-sessions', 'http');
      const context = this.context.current();
      if (closed.includes(keep) && context?.session?.key === keep) {
        context.adopt(undefined);
        this.cookie.clear(context.transport);
      }
      return;
    }
    let excess = sessions.length - max;
    for (const [key, record] of sessions) {
      if (excess <= 0) break;
      if (key === keep) continue;
      await this.closer.close(key, record, 'max-sessions', 'http');
      excess--;
    }
  }
}

/** C0 control characters: a user id goes into log lines and store keys. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\0-\x1f]/;

/** A login's new cookie needs a response to carry it: an HTTP request, not a socket message. */
export function requireCookies(context: RequestContext, method: string): RequestContext {
  if (!context.transport.canSetCookies) {
    throw new Error(`nestjs-connected: ${method} needs an HTTP request, whose response can carry the new cookie`);
  }
  return context;
}

/** Throws a TypeError unless `userId` is a user id the stores and log lines can take. */
export function assertUserId(userId: unknown, method: string): asserts userId is string {
  if (
    typeof userId !== 'string' ||
    userId.length === 0 ||
    userId.length > MAX_USER_ID ||
    CONTROL.test(userId) ||
    LONE_SURROGATE.test(userId)
  ) {
    // A lone surrogate is not text: a store that keeps UTF-8 (Redis) would give back another user id.
    throw new TypeError(`nestjs-connected: ${method} needs a user id of 1-${MAX_USER_ID} characters without control characters`);
  }
}

function processOf(context: RequestContext): { process?: string } {
  return context.processId === undefined ? {} : { process: context.processId };
}
