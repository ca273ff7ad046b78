import { authenticatedAtOf, type SessionRecord } from './session-record.js';

/** What the application may see of a session: never its id. */
export interface SessionInfo {
  /** Opaque, stable for the session's life; pass it to `SessionService.revoke()`. */
  readonly handle: string;
  /** Undefined for an anonymous session (browser data only). */
  readonly userId: string | undefined;
  readonly createdAt: Date;
  readonly lastSeenAt: Date;
  /** When the user last proved who they are in this session: the login, or the last `reauthenticate()`. */
  readonly authenticatedAt: Date;
  /**
   * Set on an impersonated session: the real user acting as `userId` (`SessionService.impersonate()`), so that the
   * user's own session list shows who is acting as them. Undefined otherwise.
   */
  readonly actorId: string | undefined;
  readonly ip: string | undefined;
  readonly userAgent: string | undefined;
  /** True for the session of the request that asked. */
  readonly current: boolean;
}

/** The application's view of a stored session. */
export function sessionInfo(key: string, record: SessionRecord, current: boolean): SessionInfo {
  return {
    handle: key,
    userId: record.userId,
    createdAt: new Date(record.createdAt),
    lastSeenAt: new Date(record.lastSeenAt),
    authenticatedAt: new Date(authenticatedAtOf(record)),
    actorId: record.actorId,
    ip: record.ip,
    userAgent: record.userAgent,
    current,
  };
}
