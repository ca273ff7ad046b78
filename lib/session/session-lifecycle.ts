import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { LiveSession, RequestContext } from '../context/request-context.js';
import { SessionContext } from '../context/session-context.js';
import type { SessionEventReason } from '../events/session-event.js';
import { SessionEvents } from '../events/session-events.js';
import { NotConnectedException } from '../exceptions/not-connected.exception.js';
import type { ResolvedSessionPolicy } from '../session-policy.js';
import { SESSION_POLICY, SESSION_STORE } from '../session.tokens.js';
import type { SessionStore, StoreRemoval } from '../stores/session-store.js';
import { TimedStore } from '../stores/timed-store.js';
import { LocalValues } from './local-values.js';
import { SessionCookie } from './session-cookie.js';
import { isSessionIdShape, newSessionId, storeKeyOf } from './session-id.js';
import type { SessionInfo } from './session-info.js';
import { SessionKey } from './session-key.js';
import { FIELD_PREFIX, type SessionRecord } from './session-record.js';
import { SessionSigner } from './session-signer.js';

/** Activity is written to the store at most this often per session, so that reads stay cheap. */
const TOUCH_INTERVAL_MS = 1000;
const MAX_USER_ID = 256;
const MAX_USER_AGENT = 256;

/**
 * Opens, checks and closes sessions: the order of DESIGN.md §3 lives here. Data access is in `SessionData`,
 * the per-request pipeline in the guard.
 */
@Injectable()
export class SessionLifecycle implements OnModuleInit, OnApplicationShutdown {
  readonly logger = new Logger('Session');
  readonly store: TimedStore;
  readonly cookie: SessionCookie;
  readonly locals = new LocalValues();
  private readonly signer: SessionSigner;
  /** Sessions being closed whose browser data moves elsewhere: their browser values get no `onDelete`. */
  private readonly keepingBrowser = new Set<string>();
  /** The `onDelete` runs of sessions leaving the store, by key, so that a closing request can await them. */
  private readonly cleanups = new Map<string, Promise<void>>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    @Inject(SESSION_POLICY) readonly policy: ResolvedSessionPolicy,
    @Inject(SESSION_STORE) rawStore: SessionStore,
    private readonly events: SessionEvents,
    private readonly context: SessionContext,
  ) {
    this.store = new TimedStore(rawStore, policy.storeTimeoutMs);
    this.cookie = new SessionCookie(policy);
    this.signer = new SessionSigner(policy.secrets);
  }

  async onModuleInit(): Promise<void> {
    this.unsubscribe = this.store.store.subscribe((removal) => this.onRemoval(removal));
    await this.store.store.open?.();
  }

  async onApplicationShutdown(): Promise<void> {
    this.unsubscribe?.();
    await Promise.allSettled(this.cleanups.values());
    await this.store.store.close?.();
  }

  /** The current request's context, or an error naming what needed it. */
  requireContext(what: string): RequestContext {
    const context = this.context.current();
    if (context === undefined) {
      throw new Error(`nestjs-connected: ${what} needs a request context (call it from a handler, not at start-up)`);
    }
    return context;
  }

  /** The request's session, resolved once: signature, record, expiry, `bindIp`, `check`. */
  current(context: RequestContext): Promise<LiveSession | undefined> {
    return context.sessionOnce(() => this.resolve(context));
  }

  private async resolve(context: RequestContext): Promise<LiveSession | undefined> {
    const { transport } = context;
    const cookie = this.cookie.read(transport);
    if (cookie.kind === 'none') return undefined;
    if (cookie.kind === 'ambiguous') {
      // Expiring our cookie here would delete the browser's genuine host-only cookie and leave a tossed one (set
      // for a parent domain or a narrower path) in charge: the request goes on without a session, nothing expired.
      this.logger.warn(`Session cookie rejected: sent more than once (client ${transport.ip ?? 'unknown'})`);
      return undefined;
    }
    if (cookie.kind === 'malformed') {
      this.logger.warn(`Session cookie rejected: malformed Cookie header (client ${transport.ip ?? 'unknown'})`);
      return this.failed(context);
    }
    const id = this.signer.unsign(cookie.value);
    if (id === undefined) {
      this.logger.warn(`Session cookie rejected: bad format or signature (client ${transport.ip ?? 'unknown'})`);
      return this.failed(context);
    }
    const key = storeKeyOf(id);
    const record = await this.store.call('get', key);
    if (record === undefined) {
      this.logger.debug(`Session cookie names no live session (client ${transport.ip ?? 'unknown'})`);
      return this.failed(context);
    }
    if (this.policy.bindIp && record.ip !== transport.ip) {
      this.logger.warn(`Session ended: client address changed (client ${transport.ip ?? 'unknown'})`);
      return this.failed(context, key, record);
    }
    if (this.policy.check !== undefined && !(await this.runCheck(context, key, record))) {
      this.logger.warn(`Session ended: policy.check refused it (client ${transport.ip ?? 'unknown'})`);
      return this.failed(context, key, record);
    }
    const now = Date.now();
    const idle = record.userId === undefined ? this.policy.anonymousIdleTimeoutMs : this.policy.idleTimeoutMs;
    // At most once a second, but at least twice per idle timeout: with an idle timeout of 1 s or less, a fixed 1 s
    // interval would never extend it (the session would be gone before its first touch).
    if (now - record.lastSeenAt >= Math.min(TOUCH_INTERVAL_MS, idle / 2)) {
      // Not awaited: activity is best effort and must not slow reads; a failure is logged by TimedStore.
      this.store.call('touch', key, now, Math.min(now + idle, record.absoluteExpiresAt)).catch(() => undefined);
    }
    return { key, record };
  }

  private async runCheck(context: RequestContext, key: string, record: SessionRecord): Promise<boolean> {
    try {
      const { transport } = context;
      // The Cookie header carries the session id: `check` sees every other header.
      const { cookie: _cookie, ...headers } = transport.headers;
      const request = { ip: transport.ip, headers, transport: transport.kind };
      return (await this.policy.check!(this.info(key, record, true), request)) === true;
    } catch (error) {
      this.logger.error(`policy.check threw, the session is refused: ${(error as Error)?.message ?? String(error)}`);
      return false;
    }
  }

  /** A failed check: the session (if one was found) is closed, the cookie and filtered cookies expired. */
  private async failed(context: RequestContext, key?: string, record?: SessionRecord): Promise<undefined> {
    if (key !== undefined && record !== undefined) {
      await this.closeSession(key, record, 'failed-check', context.transport.kind);
    }
    this.cookie.clearAfterFailedCheck(context.transport);
    return undefined;
  }

  /** Opens a session (connected when `userId` is given, anonymous otherwise) and gives the request its cookie. */
  async open(context: RequestContext, userId: string | undefined, data: Record<string, string> = {}): Promise<LiveSession> {
    const created = await this.create(context, userId, data);
    return this.handOver(context, created, [], false);
  }

  /** Writes a new session record with a new id; nothing else changes until `handOver`. */
  private async create(context: RequestContext, userId: string | undefined, data: Record<string, string>): Promise<NewSession> {
    const now = Date.now();
    const epoch = userId === undefined ? 0 : await this.store.call('epochOf', userId);
    const idle = userId === undefined ? this.policy.anonymousIdleTimeoutMs : this.policy.idleTimeoutMs;
    const absoluteExpiresAt = now + this.policy.absoluteTimeoutMs;
    const record: SessionRecord = {
      epoch,
      createdAt: now,
      lastSeenAt: now,
      idleExpiresAt: Math.min(now + idle, absoluteExpiresAt),
      absoluteExpiresAt,
      data,
    };
    if (userId !== undefined) record.userId = userId;
    const { ip } = context.transport;
    if (ip !== undefined) record.ip = ip;
    const agent = context.transport.headers['user-agent'];
    if (typeof agent === 'string') record.userAgent = agent.slice(0, MAX_USER_AGENT);
    const id = newSessionId();
    const key = storeKeyOf(id);
    const created = await this.store.call('create', key, record, { maxAnonymous: this.policy.anonymousMaxSessions });
    if (!created) throw new Error('nestjs-connected: a new session id collided with a stored one');
    return { id, key, record };
  }

  /** Makes a created session the request's: its carried values, the context, the cookie. */
  private handOver(
    context: RequestContext,
    created: NewSession,
    locals: Array<[SessionKey<unknown>, unknown]>,
    browserSessionCookie: boolean,
  ): LiveSession {
    for (const [sessionKey, value] of locals) this.locals.set(created.key, sessionKey, value);
    const session = { key: created.key, record: created.record };
    context.adopt(session);
    const maxAge = browserSessionCookie ? undefined : this.policy.absoluteTimeoutMs;
    this.cookie.write(context.transport, this.signer.sign(created.id), maxAge);
    return session;
  }

  /**
   * `connect()`: opens a session for `userId` with a new id, then closes the current one and moves its browser data
   * over. The new record is written first, so that a store failing half-way loses neither the old session nor its
   * data; a login whose hooks fail is undone.
   */
  async connect(userId: string, options: { expire?: boolean } = {}): Promise<void> {
    const context = this.requireContext('connect()');
    if (!context.transport.canSetCookies) {
      throw new Error('nestjs-connected: connect() needs an HTTP request, whose response can carry the new cookie');
    }
    if (typeof userId !== 'string' || userId.length === 0 || userId.length > MAX_USER_ID || /[\0-\x1f]/.test(userId)) {
      throw new TypeError(`nestjs-connected: connect() needs a user id of 1-${MAX_USER_ID} characters without control characters`);
    }
    const current = await this.current(context);
    const next = await this.create(context, userId, current === undefined ? {} : browserFields(current.record));
    const locals = current === undefined ? [] : await this.closeMoving(current, 'login', context, next);
    const session = this.handOver(context, next, locals, options.expire === true);
    const { kind } = context.transport;
    try {
      await this.events.emit({ type: 'open-session', transport: kind, userId, session: session.key, ...processOf(context) });
      await this.events.emit({ type: 'start-connected-process', transport: kind, userId, session: session.key, ...processOf(context) });
    } catch (error) {
      await this.store.call('destroy', session.key).catch(() => undefined);
      context.adopt(undefined);
      this.cookie.clear(context.transport);
      throw error;
    }
    await this.enforceMaxSessions(userId, session.key);
  }

  /** `disconnect()`: closes the current session; browser data stays, under a new anonymous session. */
  async disconnect(): Promise<void> {
    const context = this.requireContext('disconnect()');
    const current = await this.current(context);
    if (current?.record.userId === undefined) {
      // Nothing connected: idempotent. A cookie that named nothing was expired by the failed check already.
      return;
    }
    const data = browserFields(current.record);
    const keepsData = Object.keys(data).length > 0 || this.locals.hasBrowser(current.key);
    const next = keepsData ? await this.create(context, undefined, data) : undefined;
    const locals = await this.closeMoving(current, 'logout', context, next);
    if (next !== undefined) {
      this.handOver(context, next, locals, false);
    } else {
      context.adopt(undefined);
      this.cookie.clear(context.transport);
    }
  }

  /**
   * Closes the request's session, handing back its in-memory browser values. When closing fails, everything is put
   * back as it was and the replacement (`next`), already written, is removed again.
   */
  private async closeMoving(
    current: LiveSession,
    reason: 'login' | 'logout',
    context: RequestContext,
    next: NewSession | undefined,
  ): Promise<Array<[SessionKey<unknown>, unknown]>> {
    const locals = this.locals.takeBrowser(current.key);
    try {
      await this.closeSession(current.key, current.record, reason, context.transport.kind, true);
    } catch (error) {
      for (const [sessionKey, value] of locals) this.locals.set(current.key, sessionKey, value);
      if (next !== undefined) await this.store.call('destroy', next.key).catch(() => undefined);
      throw error;
    }
    return locals;
  }

  /**
   * Closes one session: `pre-close-session` → remove it from the store (its values' `onDelete` run) →
   * `post-close-session`. The close events are for connected sessions only.
   */
  async closeSession(
    key: string,
    record: SessionRecord,
    reason: SessionEventReason,
    transport: 'http' | 'ws',
    keepBrowser = false,
  ): Promise<void> {
    const userId = record.userId;
    if (userId !== undefined) {
      await this.events.emit({ type: 'pre-close-session', transport, userId, session: key, reason });
    }
    if (keepBrowser) this.keepingBrowser.add(key);
    try {
      await this.store.call('destroy', key);
    } finally {
      this.keepingBrowser.delete(key);
    }
    await this.cleanups.get(key);
    if (userId !== undefined) {
      await this.events.emit({ type: 'post-close-session', transport, userId, session: key, reason });
    }
  }

  /** `disconnectAll()`: every session of the user, on every device; returns how many were closed. */
  async disconnectAll(options: { userId?: string; userIndep?: boolean } = {}): Promise<number> {
    const context = this.context.current();
    let userId = options.userId;
    if (userId === undefined) {
      if (context === undefined) throw new Error('nestjs-connected: disconnectAll() outside a request needs { userId }');
      userId = (await this.current(context))?.record.userId;
      if (userId === undefined) throw new NotConnectedException();
    }
    const transport = context?.transport.kind ?? 'http';
    const listed = await this.store.call('listUser', userId);
    for (const [key] of listed) {
      await this.events.emit({ type: 'pre-close-session', transport, userId, session: key, reason: 'disconnect-all' });
    }
    const keep = options.userIndep !== true;
    const carried = new Map<string, Array<[SessionKey<unknown>, unknown]>>();
    if (keep) {
      for (const [key] of listed) {
        carried.set(key, this.locals.takeBrowser(key));
        this.keepingBrowser.add(key);
      }
    }
    let closed: Array<[string, SessionRecord]>;
    try {
      closed = await this.store.call('closeUser', userId);
    } finally {
      for (const [key] of listed) this.keepingBrowser.delete(key);
    }
    await Promise.all(closed.map(([key]) => this.cleanups.get(key)));
    const currentKey = context?.session?.key;
    for (const [key, record] of closed) {
      const data = keep ? browserFields(record) : {};
      const locals = carried.get(key) ?? [];
      let kept: LiveSession | undefined;
      if (Object.keys(data).length > 0 || locals.length > 0) {
        // The browser keeps its cookie and its browser data; only the connection goes.
        const anonymous: SessionRecord = { ...record, data, epoch: 0, idleExpiresAt: Math.min(Date.now() + this.policy.anonymousIdleTimeoutMs, record.absoluteExpiresAt) };
        delete anonymous.userId;
        if (await this.store.call('create', key, anonymous, { maxAnonymous: this.policy.anonymousMaxSessions })) {
          for (const [sessionKey, value] of locals) this.locals.set(key, sessionKey, value);
          kept = { key, record: anonymous };
        }
      }
      if (context !== undefined && key === currentKey) {
        context.adopt(kept);
        if (kept === undefined) this.cookie.clear(context.transport);
      }
    }
    for (const [key] of closed) {
      await this.events.emit({ type: 'post-close-session', transport, userId, session: key, reason: 'disconnect-all' });
    }
    return closed.length;
  }

  /** Closes the session with this handle (from `listSessions()`); nothing happens for an unknown handle. */
  async revoke(handle: string): Promise<void> {
    if (typeof handle !== 'string' || !isSessionIdShape(handle)) return;
    const record = await this.store.call('get', handle);
    if (record === undefined) return;
    const context = this.context.current();
    await this.closeSession(handle, record, 'revoked', context?.transport.kind ?? 'http');
    if (context !== undefined && context.session?.key === handle) {
      context.adopt(undefined);
      this.cookie.clear(context.transport);
    }
  }

  async listSessions(userId: string): Promise<SessionInfo[]> {
    const currentKey = this.context.current()?.session?.key;
    const sessions = await this.store.call('listUser', userId);
    return sessions.map(([key, record]) => this.info(key, record, key === currentKey));
  }

  info(key: string, record: SessionRecord, current: boolean): SessionInfo {
    return {
      handle: key,
      userId: record.userId,
      createdAt: new Date(record.createdAt),
      lastSeenAt: new Date(record.lastSeenAt),
      ip: record.ip,
      userAgent: record.userAgent,
      current,
    };
  }

  private async enforceMaxSessions(userId: string, keep: string): Promise<void> {
    const sessions = await this.store.call('listUser', userId);
    let excess = sessions.length - this.policy.maxSessionsPerUser;
    for (const [key, record] of sessions) {
      if (excess <= 0) break;
      if (key === keep) continue;
      await this.closeSession(key, record, 'max-sessions', 'http');
      excess--;
    }
  }

  /** Every session that leaves the store, whoever removed it: its values' `onDelete` run here, once. */
  private onRemoval(removal: StoreRemoval): void {
    const { key, record, reason } = removal;
    const keepBrowser = this.keepingBrowser.has(key);
    const dropped = this.locals.takeAll(key).filter((value) => !(keepBrowser && value.key.scope === 'browser'));
    const persisted: Array<{ key: SessionKey<unknown>; text: string }> = [];
    for (const [field, text] of Object.entries(record?.data ?? {})) {
      const isBrowser = field.startsWith(FIELD_PREFIX.browser);
      if (keepBrowser && isBrowser) continue;
      const sessionKey = SessionKey.named(field.slice(2));
      if (sessionKey?.onDelete !== undefined && sessionKey.codec !== undefined) persisted.push({ key: sessionKey, text });
    }
    const run = async (): Promise<void> => {
      for (const { key: sessionKey, value } of dropped) await this.runOnDelete(sessionKey, value);
      for (const { key: sessionKey, text } of persisted) {
        let value: unknown;
        try {
          value = sessionKey.codec!.deserialize(text);
        } catch {
          this.logger.warn(`Could not decode the value of key '${sessionKey.name}' for its onDelete`);
          continue;
        }
        await this.runOnDelete(sessionKey, value);
      }
      if (reason === 'expired' && record?.userId !== undefined) {
        await this.events.emitDetached({ type: 'session-expired', transport: 'http', userId: record.userId, session: key, reason: 'expired' });
      }
    };
    if (dropped.length === 0 && persisted.length === 0 && reason !== 'expired') return;
    const cleanup = run().finally(() => this.cleanups.delete(key));
    this.cleanups.set(key, cleanup);
  }

  private async runOnDelete(key: SessionKey<unknown>, value: unknown): Promise<void> {
    try {
      await key.onDelete?.(value);
    } catch (error) {
      this.logger.error(`onDelete of key '${key.name}' failed: ${(error as Error)?.message ?? String(error)}`);
    }
  }
}

/** A session written to the store but not yet handed to the request. */
interface NewSession {
  readonly id: string;
  readonly key: string;
  readonly record: SessionRecord;
}

function browserFields(record: SessionRecord): Record<string, string> {
  const data: Record<string, string> = {};
  for (const [field, value] of Object.entries(record.data)) {
    if (field.startsWith(FIELD_PREFIX.browser)) data[field] = value;
  }
  return data;
}

function processOf(context: RequestContext): { process?: string } {
  return context.processId === undefined ? {} : { process: context.processId };
}
