import type { SessionRecord } from '../stores/session-record.js';
import type { SessionKey } from '../stores/session-key.js';
import type { SessionTransport } from './session-transport.js';

/** A value, or the promise of it where it is not known at once. */
export type Eventually<T> = T | Promise<T>;

/** How parameter decorators read values without dependency injection. */
export interface SessionDataReader {
  /** Synchronous when the value is in this process once the session is known (what Nest needs no promise for). */
  read<T>(key: SessionKey<T>, context: RequestContext): Eventually<T | undefined>;
}

/** A session as one request sees it: its store key (also its public handle) and its record. */
export interface LiveSession {
  readonly key: string;
  readonly record: SessionRecord;
}

/**
 * The per-request (or per-message) state: the transport, the session once resolved, and the memoised groups.
 * Resolved at most once; `connect()`/`disconnect()` replace it.
 */
export class RequestContext {
  private resolution: Promise<LiveSession | undefined> | undefined;
  private live: LiveSession | undefined;
  /** Set once the session is known; until then, `session` is undefined even if a cookie is there. */
  resolved = false;
  /** When the read that found `session` started (ms since the epoch): a close after it may not be in `session`. */
  readAt = 0;
  groups: Promise<readonly string[]> | undefined;

  constructor(
    readonly transport: SessionTransport,
    /** The client process (tab) id, when the request named a valid one. */
    readonly processId: string | undefined,
    readonly data: SessionDataReader,
  ) {}

  /** The session as last known, synchronously (after the guard ran, this is the request's session). */
  get session(): LiveSession | undefined {
    return this.live;
  }

  /** Resolves the session once per request with `resolve`, which gets the time its read starts (ms since the epoch). */
  sessionOnce(resolve: (startedAt: number) => Eventually<LiveSession | undefined>): Promise<LiveSession | undefined> {
    try {
      const session = this.sessionNow(resolve);
      return session instanceof Promise ? session : Promise.resolve(session);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * The same, without a promise when `resolve` answers at once: the per-request path of a session in this
   * process's memory, where every promise is paid twice (once more in AsyncLocalStorage's hooks).
   */
  sessionNow(resolve: (startedAt: number) => Eventually<LiveSession | undefined>): Eventually<LiveSession | undefined> {
    if (this.resolved) return this.live;
    if (this.resolution === undefined) {
      const startedAt = Date.now();
      const found = resolve(startedAt);
      if (!(found instanceof Promise)) {
        this.adopt(found, startedAt);
        return found;
      }
      this.resolution = found.then((session) => {
        if (!this.resolved) this.adopt(session, startedAt);
        return this.live;
      });
      // A rejected resolution (store down) may be retried by a later call in the same request.
      this.resolution.catch(() => {
        if (!this.resolved) this.resolution = undefined;
      });
    }
    return this.resolution;
  }

  /** Replaces the session (after a login, a logout, a revocation), as read at `readAt`. */
  adopt(session: LiveSession | undefined, readAt = Date.now()): void {
    this.live = session;
    this.readAt = readAt;
    this.resolved = true;
    this.resolution = undefined;
    this.groups = undefined;
  }
}
