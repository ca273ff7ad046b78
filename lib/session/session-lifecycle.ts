import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Eventually, LiveSession, RequestContext } from '../context/request-context.js';
import { SessionContext } from '../context/session-context.js';
import type { SessionTransport } from '../context/session-transport.js';
import type { SessionEventReason } from '../events/session-event.js';
import { SessionEvents } from '../events/session-events.js';
import { NotConnectedException } from '../exceptions/not-connected.exception.js';
import { describeError } from '../util/describe-error.js';
import { SessionStoreUnavailableException } from '../exceptions/session-store-unavailable.exception.js';
import type { ResolvedSessionPolicy } from '../session-policy.js';
import { SESSION_POLICY, SESSION_STORE } from '../session.tokens.js';
import type { SessionStore, StoreRemoval } from '../stores/session-store.js';
import { TimedStore } from '../stores/timed-store.js';
import { BoundedCache } from '../util/bounded-cache.js';
import { LocalValues, type DroppedValue } from './local-values.js';
import { SessionCookie } from './session-cookie.js';
import { isSessionIdShape, newSessionId, storeKeyOf } from './session-id.js';
import type { SessionInfo } from '../stores/session-info.js';
import { SessionKey } from '../stores/session-key.js';
import { FIELD_PREFIX, LONE_SURROGATE, type SessionRecord } from '../stores/session-record.js';
import { SessionSigner } from './session-signer.js';

/** Activity is written to the store at most this often per session, so that reads stay cheap. */
const TOUCH_INTERVAL_MS = 1000;
const MAX_USER_ID = 256;
const MAX_USER_AGENT = 256;
/** How many verified cookie values are remembered (about 200 bytes each). */
const VERIFIED_COOKIES = 10_000;

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
  /** Cookie values whose signature verified, with their store key: a repeat visit skips the HMAC and the hash. */
  private readonly verified = new BoundedCache<string, string>(VERIFIED_COOKIES);
  /** `onDelete` runs started by the store's own removals (expiry, eviction), awaited at shutdown. */
  private readonly cleanups = new Set<Promise<void>>();
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
    await Promise.allSettled(this.cleanups);
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

  /** The same, without a promise when it is known at once (a session in a store that can `peek`, no `check`). */
  currentNow(context: RequestContext): Eventually<LiveSession | undefined> {
    return context.sessionNow(() => this.resolve(context));
  }

  private resolve(context: RequestContext): Eventually<LiveSession | undefined> {
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
      return this.failed(transport);
    }
    let key = this.verified.get(cookie.value);
    if (key === undefined) {
      const id = this.signer.unsign(cookie.value);
      if (id === undefined) {
        this.logger.warn(`Session cookie rejected: bad format or signature (client ${transport.ip ?? 'unknown'})`);
        return this.failed(transport);
      }
      key = storeKeyOf(id);
      this.verified.set(cookie.value, key);
    }
    const found = this.store.read(key);
    return found instanceof Promise
      ? found.then((record) => this.admitRecord(transport, key, record))
      : this.admitRecord(transport, key, found);
  }

  /** The checks on a record the cookie named: there, same address under `bindIp`, `check`. */
  private admitRecord(
    transport: SessionTransport,
    key: string,
    record: SessionRecord | undefined,
  ): Eventually<LiveSession | undefined> {
    if (record === undefined) {
      this.logger.debug(`Session cookie names no live session (client ${transport.ip ?? 'unknown'})`);
      return this.failed(transport);
    }
    if (this.policy.bindIp && record.ip !== transport.ip) {
      this.logger.warn(`Session ended: client address changed (client ${transport.ip ?? 'unknown'})`);
      return this.failed(transport, key, record);
    }
    if (this.policy.check !== undefined) {
      return this.passesCheck(transport, key, record).then((passed) => {
        if (passed) return this.live(key, record);
        this.logger.warn(`Session ended: policy.check refused it (client ${transport.ip ?? 'unknown'})`);
        return this.failed(transport, key, record);
      });
    }
    return this.live(key, record);
  }

  private live(key: string, record: SessionRecord): LiveSession {
    this.touchIfDue(key, record);
    return { key, record };
  }

  /** Records activity on a live session, at most once a second. */
  touchIfDue(key: string, record: SessionRecord, now = Date.now()): void {
    const idle = record.userId === undefined ? this.policy.anonymousIdleTimeoutMs : this.policy.idleTimeoutMs;
    // At most once a second, but at least twice per idle timeout: with an idle timeout of 1 s or less, a fixed 1 s
    // interval would never extend it (the session would be gone before its first touch).
    if (now - record.lastSeenAt >= Math.min(TOUCH_INTERVAL_MS, idle / 2)) {
      // Not awaited: activity is best effort and must not slow reads; a failure is logged by TimedStore.
      this.store.call('touch', key, now, Math.min(now + idle, record.absoluteExpiresAt)).catch(() => undefined);
    }
  }

  /** `policy.check` (which must be set) for a session found by a request or re-read by a socket. */
  async passesCheck(transport: SessionTransport, key: string, record: SessionRecord): Promise<boolean> {
    try {
      // The Cookie header carries the session id: `check` sees every other header.
      const { cookie: _cookie, ...headers } = transport.headers;
      const request = { ip: transport.ip, headers, transport: transport.kind };
      return (await this.policy.check!(this.info(key, record, true), request)) === true;
    } catch (error) {
      this.logger.error(`policy.check threw, the session is refused: ${describeError(error)}`);
      return false;
    }
  }

  /** A failed check: the session (if one was found) is closed, the cookie and filtered cookies expired. */
  async failed(transport: SessionTransport, key?: string, record?: SessionRecord): Promise<undefined> {
    this.cookie.clearAfterFailedCheck(transport);
    if (key !== undefined && record !== undefined) {
      try {
        await this.closeSession(key, record, 'failed-check', transport.kind);
      } catch (error) {
        // A sick store is the 503 it always is; a throwing close hook must not turn a failed check into a 500.
        if (error instanceof SessionStoreUnavailableException) throw error;
        this.logger.error(`Closing a session that failed its check: ${describeError(error)}`);
      }
    }
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
    moved: DroppedValue[],
    browserSessionCookie: boolean,
  ): LiveSession {
    this.locals.restore(created.key, moved);
    const session = { key: created.key, record: created.record };
    context.adopt(session);
    const maxAge = browserSessionCookie ? undefined : this.policy.absoluteTimeoutMs;
    this.cookie.write(context.transport, this.signer.sign(created.id), maxAge);
    return session;
  }

  /**
   * `connect()`: opens a session for `userId` with a new id, then closes the current one and moves its browser data
   * over. The new record is written first, so that a store failing half-way loses neither the old session nor its
   * data; a login whose hooks fail is undone as a logout would be.
   */
  async connect(userId: string, options: { expire?: boolean } = {}): Promise<void> {
    const context = this.requireContext('connect()');
    if (!context.transport.canSetCookies) {
      throw new Error('nestjs-connected: connect() needs an HTTP request, whose response can carry the new cookie');
    }
    if (typeof userId !== 'string' || userId.length === 0 || userId.length > MAX_USER_ID || /[\0-\x1f]/.test(userId) || LONE_SURROGATE.test(userId)) {
      // A lone surrogate is not text: a store that keeps UTF-8 (Redis) would give back another user id.
      throw new TypeError(`nestjs-connected: connect() needs a user id of 1-${MAX_USER_ID} characters without control characters`);
    }
    const current = await this.current(context);
    const next = await this.create(context, userId, current === undefined ? {} : browserFields(current.record));
    let moved: DroppedValue[] = [];
    if (current !== undefined) {
      try {
        moved = await this.closeSession(current.key, current.record, 'login', context.transport.kind, { moveBrowser: true });
      } catch (error) {
        // The copy of the browser data in `next` is not a value leaving: no onDelete (the store reports nothing
        // for its own destroy).
        await this.store.call('destroy', next.key).catch(() => undefined);
        throw error;
      }
    }
    const session = this.handOver(context, next, moved, options.expire === true);
    const { kind } = context.transport;
    try {
      await this.events.emit({ type: 'open-session', transport: kind, userId, session: session.key, ...processOf(context) });
      await this.events.emit({ type: 'start-connected-process', transport: kind, userId, session: session.key, ...processOf(context) });
    } catch (error) {
      await this.endConnected(context, session, 'login', false).catch((undo: unknown) => {
        this.logger.error(`Undoing a login whose hook failed: ${describeError(undo)}`);
        context.adopt(undefined);
        this.cookie.clear(context.transport);
      });
      throw error;
    }
    // Best effort: the login has happened; a failure here must not answer as if it had not.
    await this.enforceMaxSessions(userId, session.key).catch((error: unknown) => {
      this.logger.error(`Closing the oldest sessions past maxSessionsPerUser: ${describeError(error)}`);
    });
  }

  /** `disconnect()`: closes the current session; browser data stays, under a new anonymous session. */
  async disconnect(): Promise<void> {
    const context = this.requireContext('disconnect()');
    const current = await this.current(context);
    // Nothing connected: idempotent. A cookie that named nothing was expired by the failed check already.
    if (current?.record.userId !== undefined) await this.endConnected(context, current, 'logout', true);
  }

  /**
   * Ends a connected session of the request. Its browser data, if any, goes to a new anonymous session written
   * before the old one closes (so a store failing half-way loses nothing); otherwise the cookie is expired.
   */
  private async endConnected(context: RequestContext, current: LiveSession, reason: 'login' | 'logout', announce: boolean): Promise<void> {
    if (!context.transport.canSetCookies) {
      // A WebSocket message cannot hand the browser a new cookie: its browser data stays under the cookie it has,
      // in an anonymous record under the same key (as after disconnectAll).
      const moved = await this.closeSession(current.key, current.record, reason, context.transport.kind, { moveBrowser: true, announce });
      const kept = await this.keepBrowserData(current.key, current.record, moved);
      if (kept === undefined) for (const { key, value } of moved) await this.runOnDelete(key, value);
      context.adopt(kept);
      return;
    }
    const data = browserFields(current.record);
    const keeps = Object.keys(data).length > 0 || this.locals.hasBrowser(current.key);
    const next = keeps ? await this.create(context, undefined, data) : undefined;
    let moved: DroppedValue[];
    try {
      moved = await this.closeSession(current.key, current.record, reason, context.transport.kind, { moveBrowser: keeps, announce });
    } catch (error) {
      if (next !== undefined) await this.store.call('destroy', next.key).catch(() => undefined);
      throw error;
    }
    if (next !== undefined) {
      this.handOver(context, next, moved, false);
    } else {
      context.adopt(undefined);
      this.cookie.clear(context.transport);
    }
  }

  /**
   * Closes one session: `pre-close-session` → remove it from the store → its values' `onDelete` →
   * `post-close-session` (close events for connected sessions only). The values are taken out before the store
   * call and run their `onDelete` here, once, from the record the store removed; with `moveBrowser`, browser values
   * are handed back instead, to go to another session. When the store call fails, everything stays as it was.
   */
  async closeSession(
    key: string,
    record: SessionRecord,
    reason: SessionEventReason,
    transport: 'http' | 'ws',
    options: { moveBrowser?: boolean; announce?: boolean } = {},
  ): Promise<DroppedValue[]> {
    const { moveBrowser = false, announce = true } = options;
    const userId = announce ? record.userId : undefined;
    if (userId !== undefined) {
      await this.events.emit({ type: 'pre-close-session', transport, userId, session: key, reason });
    }
    const values = this.locals.takeAll(key);
    let removed: SessionRecord | undefined;
    try {
      removed = await this.store.call('destroy', key);
    } catch (error) {
      this.locals.restore(key, values);
      throw error;
    }
    const moved = moveBrowser ? values.filter((value) => value.key.scope === 'browser') : [];
    const dropped = moveBrowser ? values.filter((value) => value.key.scope !== 'browser') : values;
    await this.runOnDeletes(dropped, removed === undefined ? [] : persistedValues(removed, moveBrowser));
    if (userId !== undefined) {
      await this.events.emit({ type: 'post-close-session', transport, userId, session: key, reason });
    }
    return moved;
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
    const taken = new Map(listed.map(([key]) => [key, this.locals.takeAll(key)] as const));
    let closed: Array<[string, SessionRecord]>;
    try {
      closed = await this.store.call('closeUser', userId);
    } catch (error) {
      for (const [key, values] of taken) this.locals.restore(key, values);
      throw error;
    }
    const keepBrowser = options.userIndep !== true;
    const currentKey = context?.session?.key;
    for (const [key, record] of closed) {
      // Sessions opened after the listing were not announced: they get both events, late but in order.
      if (!taken.has(key)) {
        await this.events.emit({ type: 'pre-close-session', transport, userId, session: key, reason: 'disconnect-all' });
      }
      const values = taken.get(key) ?? this.locals.takeAll(key);
      const kept = keepBrowser ? await this.keepBrowserData(key, record, values) : undefined;
      const moved = kept === undefined ? [] : values.filter((value) => value.key.scope === 'browser');
      await this.runOnDeletes(
        values.filter((value) => !moved.includes(value)),
        persistedValues(record, kept !== undefined),
      );
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

  /**
   * After `disconnectAll`: the browser keeps its cookie and its browser data, in an anonymous record under the same
   * key; only the connection goes. Undefined when there was nothing to keep or the store refused it (the data then
   * leaves with the session, `onDelete` included: fail closed).
   */
  private async keepBrowserData(key: string, record: SessionRecord, values: DroppedValue[]): Promise<LiveSession | undefined> {
    const data = browserFields(record);
    const browserValues = values.filter((value) => value.key.scope === 'browser');
    if (Object.keys(data).length === 0 && browserValues.length === 0) return undefined;
    const anonymous: SessionRecord = {
      ...record,
      data,
      epoch: 0,
      idleExpiresAt: Math.min(Date.now() + this.policy.anonymousIdleTimeoutMs, record.absoluteExpiresAt),
    };
    delete anonymous.userId;
    try {
      if (!(await this.store.call('create', key, anonymous, { maxAnonymous: this.policy.anonymousMaxSessions }))) return undefined;
    } catch {
      return undefined;
    }
    this.locals.restore(key, browserValues);
    return { key, record: anonymous };
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

  /**
   * Sessions the store removed on its own (expiry, eviction) or that another server closed: their in-memory values
   * here go, with `onDelete`. Persisted values run `onDelete` only where the store hands over the record of an
   * expiry or eviction: a `destroyed` removal was asked for by a `closeSession`/`disconnectAll`, which runs them.
   */
  private onRemoval(removal: StoreRemoval): void {
    const { key, record, reason } = removal;
    const values = this.locals.takeAll(key);
    const persisted = reason !== 'destroyed' && record !== undefined ? persistedValues(record, false) : [];
    const userId = record?.userId;
    if (values.length === 0 && persisted.length === 0 && (userId === undefined || reason === 'destroyed')) return;
    const cleanup = (async () => {
      await this.runOnDeletes(values, persisted);
      if (userId === undefined) return;
      if (reason === 'expired') {
        await this.events.emitDetached({ type: 'session-expired', transport: 'http', userId, session: key, reason });
      } else if (reason === 'evicted') {
        await this.events.emitDetached({ type: 'post-close-session', transport: 'http', userId, session: key, reason });
      }
    })();
    this.cleanups.add(cleanup);
    void cleanup.finally(() => this.cleanups.delete(cleanup));
  }

  /** Runs `onDelete` for values leaving with their session: in-memory ones, then persisted ones (decoded). */
  private async runOnDeletes(values: DroppedValue[], persisted: Array<{ key: SessionKey<unknown>; text: string }>): Promise<void> {
    for (const { key, value } of values) await this.runOnDelete(key, value);
    for (const { key, text } of persisted) {
      let value: unknown;
      try {
        value = key.codec!.deserialize(text);
      } catch {
        this.logger.warn(`Could not decode the value of key '${key.name}' for its onDelete`);
        continue;
      }
      await this.runOnDelete(key, value);
    }
  }

  /** One `onDelete`, whose failure is logged. */
  async runOnDelete(key: SessionKey<unknown>, value: unknown): Promise<void> {
    try {
      await key.onDelete?.(value);
    } catch (error) {
      this.logger.error(`onDelete of key '${key.name}' failed: ${describeError(error)}`);
    }
  }
}

/** A session written to the store but not yet handed to the request. */
interface NewSession {
  readonly id: string;
  readonly key: string;
  readonly record: SessionRecord;
}

/** The persisted values of a record whose keys have an `onDelete`; browser ones left out when they move on. */
function persistedValues(record: SessionRecord, skipBrowser: boolean): Array<{ key: SessionKey<unknown>; text: string }> {
  const values: Array<{ key: SessionKey<unknown>; text: string }> = [];
  for (const [field, text] of Object.entries(record.data)) {
    if (skipBrowser && field.startsWith(FIELD_PREFIX.browser)) continue;
    const key = SessionKey.named(field.slice(2));
    if (key?.onDelete !== undefined && key.codec !== undefined) values.push({ key, text });
  }
  return values;
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
