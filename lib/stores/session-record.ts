/**
 * What a store keeps of a session. Times are milliseconds since the epoch. `data` holds only the values of keys
 * with `persist`, already serialized, under their field names (`s:<key>` for session scope, `b:<key>` for browser
 * scope); values of other keys stay in the memory of the server that set them.
 */
export interface SessionRecord {
  /** Undefined for an anonymous session, which holds browser data only. */
  userId?: string;
  /**
   * When the user last proved who they are in this session (`connect()`, `reauthenticate()`); connected sessions
   * only. Records written before it existed have none: read it with {@link authenticatedAtOf}.
   */
  authenticatedAt?: number;
  /**
   * True when the session's cookie is a browser-session cookie (`connect(user, { expire: true })`), so that a cookie
   * issued again for the same session (`reauthenticate()`) is one too. Absent: a persistent cookie.
   */
  browserSessionCookie?: boolean;
  /**
   * Set on an impersonated session (`SessionService.impersonate()`): the real user acting as `userId`. Absent: not
   * impersonated (records written before the field existed included).
   */
  actorId?: string;
  /**
   * With `actorId`: the actor's epoch when the impersonation began, so that `stopImpersonating()` cannot log back in
   * an actor whose sessions a `disconnectAll` closed meanwhile.
   */
  actorEpoch?: number;
  /** The user's epoch when the session opened; a later `disconnectAll` makes it dead. 0 for anonymous sessions. */
  epoch: number;
  createdAt: number;
  lastSeenAt: number;
  /** When the session ends unless it is used again. */
  idleExpiresAt: number;
  /** When the session ends whatever its activity; never moved. */
  absoluteExpiresAt: number;
  ip?: string;
  userAgent?: string;
  data: Record<string, string>;
}

/** The moment a record stops being valid. */
export function expiresAt(record: SessionRecord): number {
  return Math.min(record.idleExpiresAt, record.absoluteExpiresAt);
}

/** When the session's user last authenticated: a record without the field (an older one) counts from its creation. */
export function authenticatedAtOf(record: SessionRecord): number {
  return record.authenticatedAt ?? record.createdAt;
}

/** Field names of the two record-held scopes. */
export const FIELD_PREFIX = { session: 's:', browser: 'b:' } as const;

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

function isEpoch(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

function isOptionalString(value: unknown): value is string | undefined {
  return value === undefined || typeof value === 'string';
}

/**
 * Reads a record that came from outside the process (a snapshot file, Redis): anything that is not exactly a
 * record, including `__proto__` fields, gives undefined so that the caller treats it as no session.
 */
export function decodeSessionRecord(input: unknown): SessionRecord | undefined {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return undefined;
  const raw = input as Record<string, unknown>;
  if (Object.prototype.hasOwnProperty.call(raw, '__proto__')) return undefined;
  const {
    userId,
    authenticatedAt,
    browserSessionCookie,
    actorId,
    actorEpoch,
    epoch,
    createdAt,
    lastSeenAt,
    idleExpiresAt,
    absoluteExpiresAt,
    ip,
    userAgent,
    data,
  } = raw;
  if (!isOptionalString(userId) || userId === '') return undefined;
  if (authenticatedAt !== undefined && !isTime(authenticatedAt)) return undefined;
  if (browserSessionCookie !== undefined && typeof browserSessionCookie !== 'boolean') return undefined;
  // An actor without a user it acts as is no session this library wrote.
  if (!isOptionalString(actorId) || actorId === '' || (actorId !== undefined && userId === undefined)) return undefined;
  if (actorEpoch !== undefined && (actorId === undefined || !isEpoch(actorEpoch))) return undefined;
  if (!isEpoch(epoch)) return undefined;
  if (!isTime(createdAt) || !isTime(lastSeenAt) || !isTime(idleExpiresAt) || !isTime(absoluteExpiresAt)) return undefined;
  if (!isOptionalString(ip) || !isOptionalString(userAgent)) return undefined;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return undefined;
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const name of Object.keys(data)) {
    const value = (data as Record<string, unknown>)[name];
    if (name === '__proto__' || typeof value !== 'string') return undefined;
    if (!name.startsWith(FIELD_PREFIX.session) && !name.startsWith(FIELD_PREFIX.browser)) return undefined;
    fields[name] = value;
  }
  if (Object.prototype.hasOwnProperty.call(data, '__proto__')) return undefined;
  const record: SessionRecord = { epoch, createdAt, lastSeenAt, idleExpiresAt, absoluteExpiresAt, data: fields };
  if (userId !== undefined) record.userId = userId;
  if (authenticatedAt !== undefined) record.authenticatedAt = authenticatedAt;
  if (browserSessionCookie === true) record.browserSessionCookie = true;
  if (actorId !== undefined) record.actorId = actorId;
  if (actorEpoch !== undefined) record.actorEpoch = actorEpoch;
  if (ip !== undefined) record.ip = ip;
  if (userAgent !== undefined) record.userAgent = userAgent;
  return record;
}

/** A UTF-16 surrogate without its pair: not text, and a store that keeps UTF-8 (Redis) would give back another id. */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
