import type { SessionRecord } from '../session/session-record.js';
import type { SessionKey } from '../session/session-key.js';
import type { SessionTransport } from './session-transport.js';

/** How parameter decorators read values without dependency injection. */
export interface SessionDataReader {
  get<T>(key: SessionKey<T>, context: RequestContext): Promise<T | undefined>;
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

  /** Resolves the session once per request with `resolve`. */
  sessionOnce(resolve: () => Promise<LiveSession | undefined>): Promise<LiveSession | undefined> {
    if (this.resolution === undefined) {
      this.resolution = resolve().then((session) => {
        if (!this.resolved) this.adopt(session);
        return this.live;
      });
      // A rejected resolution (store down) may be retried by a later call in the same request.
      this.resolution.catch(() => {
        if (!this.resolved) this.resolution = undefined;
      });
    }
    return this.resolution;
  }

  /** Replaces the session (after a login, a logout, a revocation). */
  adopt(session: LiveSession | undefined): void {
    this.live = session;
    this.resolved = true;
    this.resolution = Promise.resolve(session);
    this.groups = undefined;
  }
}
