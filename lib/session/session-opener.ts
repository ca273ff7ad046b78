import { Inject, Injectable } from '@nestjs/common';
import type { LiveSession, RequestContext } from '../context/request-context.js';
import type { ResolvedSessionPolicy } from '../session-policy.js';
import { SESSION_POLICY } from '../session.tokens.js';
import type { SessionRecord } from '../stores/session-record.js';
import type { StoreLimits } from '../stores/session-store.js';
import { TimedStore } from '../stores/timed-store.js';
import { LocalValues, type DroppedValue } from './local-values.js';
import { browserFields } from './record-fields.js';
import { SessionCookie } from './session-cookie.js';
import { newSessionId, storeKeyOf } from './session-id.js';
import { SessionSigner } from './session-signer.js';
import { VerifiedCookies } from './verified-cookies.js';

const MAX_USER_AGENT = 256;

/** The bounds a store applies when it creates a session, from the policy. */
export function storeLimitsOf(policy: ResolvedSessionPolicy): StoreLimits {
  return { maxAnonymous: policy.anonymousMaxSessions, maxPerAddress: policy.anonymousMaxPerAddress };
}

/** How {@link SessionOpener.create} opens a connected session; every field optional. */
export interface OpenOptions {
  /** A browser-session cookie. */
  readonly expire?: boolean;
  /** `impersonate()`: the real user, who acts as the session's user, and their epoch then. */
  readonly actorId?: string;
  readonly actorEpoch?: number;
  /** When the user (or the actor, for an impersonation) last proved who they are. Default: now, a login. */
  readonly authenticatedAt?: number;
  /** An absolute end sooner than the policy's (ms since the epoch), as for an impersonation's `maxDuration`. */
  readonly endsAt?: number;
}

/** A session written to the store but not yet handed to the request. */
export interface NewSession {
  readonly id: string;
  readonly key: string;
  readonly record: SessionRecord;
}

/**
 * Opens sessions in two steps, so that a caller can write the new record before it closes the old one (a store
 * failing half-way then loses nothing): {@link create} writes a record under a new id, {@link handOver} makes it
 * the request's (its carried values, the context, the cookie).
 */
@Injectable()
export class SessionOpener {
  constructor(
    @Inject(SESSION_POLICY) private readonly policy: ResolvedSessionPolicy,
    private readonly store: TimedStore,
    private readonly locals: LocalValues,
    private readonly cookie: SessionCookie,
    private readonly signer: SessionSigner,
    private readonly verified: VerifiedCookies,
  ) {}

  /** Opens a session (connected when `userId` is given, anonymous otherwise) and gives the request its cookie. */
  async open(context: RequestContext, userId: string | undefined, data: Record<string, string> = {}): Promise<LiveSession> {
    return this.handOver(context, await this.create(context, userId, data), [], this.policy.absoluteTimeoutMs);
  }

  /**
   * Writes a new session record with a new id; nothing else changes until `handOver`. A connected session records
   * its login as `authenticatedAt`, and `expire` (a browser-session cookie), so that a cookie issued again for it
   * (`reauthenticate()`) is of the same kind.
   */
  async create(
    context: RequestContext,
    userId: string | undefined,
    data: Record<string, string>,
    options: OpenOptions = {},
  ): Promise<NewSession> {
    const now = Date.now();
    const epoch = userId === undefined ? 0 : await this.store.call('epochOf', userId);
    const idle = userId === undefined ? this.policy.anonymousIdleTimeoutMs : this.policy.idleTimeoutMs;
    const absoluteExpiresAt = Math.min(now + this.policy.absoluteTimeoutMs, options.endsAt ?? Number.POSITIVE_INFINITY);
    const record: SessionRecord = {
      epoch,
      createdAt: now,
      lastSeenAt: now,
      idleExpiresAt: Math.min(now + idle, absoluteExpiresAt),
      absoluteExpiresAt,
      data,
    };
    if (userId !== undefined) {
      record.userId = userId;
      record.authenticatedAt = options.authenticatedAt ?? now;
      if (options.expire === true) record.browserSessionCookie = true;
      if (options.actorId !== undefined) {
        record.actorId = options.actorId;
        if (options.actorEpoch !== undefined) record.actorEpoch = options.actorEpoch;
      }
    }
    const { ip } = context.transport;
    if (ip !== undefined) record.ip = ip;
    const agent = context.transport.headers['user-agent'];
    if (typeof agent === 'string') record.userAgent = agent.slice(0, MAX_USER_AGENT);
    return this.write(record);
  }

  /** Writes `record` under a new id: a new session, or one that goes on under a new id (`reauthenticate()`). */
  async write(record: SessionRecord): Promise<NewSession> {
    const id = newSessionId();
    const key = storeKeyOf(id);
    const created = await this.store.call('create', key, record, storeLimitsOf(this.policy));
    if (!created) throw new Error('nestjs-connected: a new session id collided with a stored one');
    return { id, key, record };
  }

  /**
   * Makes a created session the request's: its carried values, the context, the cookie, which lives `maxAgeMs`
   * (undefined: a browser-session cookie).
   */
  handOver(context: RequestContext, created: NewSession, moved: DroppedValue[], maxAgeMs: number | undefined): LiveSession {
    this.locals.restore(created.key, moved);
    const session = { key: created.key, record: created.record };
    context.adopt(session);
    const value = this.signer.sign(created.id);
    // Signed here, so verified: the browser's next request skips the HMAC, and the entry shares the store's key string.
    this.verified.remember(value, created.key);
    this.cookie.write(context.transport, value, maxAgeMs);
    return session;
  }

  /**
   * After a connected session closed without a new cookie for its browser (`disconnectAll` with `userIndep: false`,
   * a logout on a socket): the browser keeps its cookie and its browser data, in an anonymous record under the same
   * key; only the connection goes. Undefined when there was nothing to keep or the store refused it (the data then
   * leaves with the session, `onDelete` included: fail closed).
   */
  async keepBrowserData(key: string, record: SessionRecord, values: DroppedValue[]): Promise<LiveSession | undefined> {
    const data = browserFields(record);
    const browserValues = values.filter((value) => value.key.scope === 'browser');
    if (Object.keys(data).length === 0 && browserValues.length === 0) return undefined;
    const now = Date.now();
    const anonymous: SessionRecord = {
      ...record,
      data,
      epoch: 0,
      lastSeenAt: now,
      idleExpiresAt: Math.min(now + this.policy.anonymousIdleTimeoutMs, record.absoluteExpiresAt),
    };
    // Nobody is connected: no user, nobody acting as one, and no login to be fresh.
    delete anonymous.userId;
    delete anonymous.actorId;
    delete anonymous.actorEpoch;
    delete anonymous.authenticatedAt;
    try {
      if (!(await this.store.call('create', key, anonymous, storeLimitsOf(this.policy)))) return undefined;
    } catch {
      return undefined;
    }
    this.locals.restore(key, browserValues);
    return { key, record: anonymous };
  }
}
