/** What the application may see of a session: never its id. */
export interface SessionInfo {
  /** Opaque, stable for the session's life; pass it to `SessionService.revoke()`. */
  readonly handle: string;
  /** Undefined for an anonymous session (browser data only). */
  readonly userId: string | undefined;
  readonly createdAt: Date;
  readonly lastSeenAt: Date;
  readonly ip: string | undefined;
  readonly userAgent: string | undefined;
  /** True for the session of the request that asked. */
  readonly current: boolean;
}
