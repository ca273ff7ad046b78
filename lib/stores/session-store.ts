import type { SessionRecord } from './session-record.js';

/** Why a store dropped a session on its own or was told to. */
export type StoreRemovalReason = 'destroyed' | 'expired' | 'evicted';

/** Told to every subscriber whenever a session leaves the store, on this server or (for shared stores) another. */
export interface StoreRemoval {
  readonly key: string;
  readonly reason: StoreRemovalReason;
  /** The record as it was, when the store still had it. */
  readonly record: SessionRecord | undefined;
  /**
   * Set when the session goes on under this other key (`reauthenticate()` gave it a new id): every server moves the
   * session's live clients and in-memory values there instead of closing them. Only `destroy` with `movedTo` sets it.
   */
  readonly movedTo?: string;
}

/** Bounds the store applies when it creates a session. */
export interface StoreLimits {
  /** Past this many anonymous sessions, the oldest is evicted. */
  readonly maxAnonymous: number;
  /**
   * Past this many anonymous sessions from one client address (the record's `ip`; records without one share a
   * single bucket), the oldest anonymous session of that same address is evicted, never another address's: one
   * client cannot push out the sessions of others. Undefined: no bound per address. Applied before `maxAnonymous`;
   * evictions are reported to `subscribe` with reason `evicted`.
   */
  readonly maxPerAddress?: number;
}

/**
 * The storage contract every store passes (see `test/stores/`). Keys are SHA-256 hashes of session ids, never ids.
 * All methods may reject; the library turns a rejection or a late answer into a 503 on routes that need a session.
 */
export interface SessionStore {
  /** Stores `record` only if `key` is absent. Resolves false when it was present. */
  create(key: string, record: SessionRecord, limits: StoreLimits): Promise<boolean>;
  /**
   * The record, or undefined when it is absent, expired (it is then removed, reason `expired`) or older than its
   * user's epoch (removed, reason `destroyed`).
   */
  get(key: string): Promise<SessionRecord | undefined>;
  /**
   * Optional: the same answer as `get`, with the same removals, but synchronously. Only for stores that hold their
   * records in this process (`MemoryStore`): with it, a request whose session is known runs its guard and its
   * `@SessionData` reads without a promise. It must never wait for I/O; a throw is treated as a rejected `get`.
   */
  peek?(key: string): SessionRecord | undefined;
  /**
   * Optional, for stores that keep copies of records held elsewhere (`RedisStore`'s near cache): the record when it
   * is known without I/O and passes every check of `get`, or undefined when `get` must answer (then it is called). It
   * must never wait for I/O nor remove anything; a throw is treated as a rejected `get`.
   */
  cached?(key: string): SessionRecord | undefined;
  /**
   * Writes one data field of a live session; resolves false, writing nothing, when the session is gone, or when it
   * is anonymous and the field is session-scoped (`s:`): a `disconnectAll` that kept a browser's data leaves an
   * anonymous record under the same key, which a late write of the closed session must not reach.
   */
  setField(key: string, field: string, value: string): Promise<boolean>;
  /** Removes one data field of a live session; resolves false when the session is gone. */
  deleteField(key: string, field: string): Promise<boolean>;
  /** Records activity: moves the idle expiry (never past the absolute one). Never revives a gone session. */
  touch(key: string, lastSeenAt: number, idleExpiresAt: number): Promise<boolean>;
  /**
   * Removes a session and its index entry; resolves the record it removed, or undefined. With `movedTo` (the key of
   * a record already created for the same session under a new id), the removal is reported to every subscriber, on
   * every server, with that `movedTo`; a store that leaves it out makes the other servers close the session's clients
   * instead of moving them.
   */
  destroy(key: string, movedTo?: string): Promise<SessionRecord | undefined>;
  /** The live sessions of a user, oldest first; costs in proportion to that user's sessions. */
  listUser(userId: string): Promise<Array<[key: string, record: SessionRecord]>>;
  /**
   * Optional: closes the oldest sessions of a user past a bound, in one step that concurrent calls (logins racing
   * on several requests or servers) cannot overdo together. Counts the user's sessions now and removes, of those
   * whose keys are in `candidates`, the oldest (in `listUser` order), as many as the count exceeds `max`: never more,
   * and never a session that is not a candidate, so that the caller has announced every session it closes. Resolves
   * the removed sessions with their records, oldest first; each is reported to `subscribe` as `destroyed`, as
   * `destroy` does. A store without it is trimmed by `listUser` then `destroy`, which concurrent logins can overdo.
   */
  trimUser?(userId: string, max: number, candidates: readonly string[]): Promise<Array<[key: string, record: SessionRecord]>>;
  /**
   * Bumps the user's epoch and removes every session of the user in one step; resolves what it removed. With `keep`
   * (`disconnectAll({ exceptCurrent: true })`), that session, if it is a live session of the user, stays: it is
   * carried into the new epoch with the bump, so that no read racing the call ever finds it behind its user's epoch,
   * and it is not among those resolved. A `keep` that is not live, or that a racing `closeUser` ends, is not kept. A
   * store that ignores `keep` closes it with the others (the library then treats the current session as closed).
   */
  closeUser(userId: string, keep?: string): Promise<Array<[key: string, record: SessionRecord]>>;
  /** The user's current epoch (0 before any `closeUser`). */
  epochOf(userId: string): Promise<number>;
  /** A persisted `user`-scoped value. */
  getUserField(userId: string, field: string): Promise<string | undefined>;
  /** Writes (or with undefined, removes) a persisted `user`-scoped value. */
  setUserField(userId: string, field: string, value: string | undefined): Promise<void>;
  /** Calls `listener` for every session that leaves the store. Returns the unsubscribe function. */
  subscribe(listener: (removal: StoreRemoval) => void): () => void;
  /** Called once when the application starts (read a snapshot, connect). */
  open?(): Promise<void>;
  /** Called once when the application shuts down (write a snapshot, stop timers, disconnect). */
  close?(): Promise<void>;
  /**
   * Optional: told when a call of `method` made for a request had no answer within the policy's `storeTimeout`.
   * The library has answered that request with a 503 and logged the miss; the call itself may still be running. A
   * store whose backend can hang (a network server) implements it to stop waiting on that backend, for example by
   * failing every call at once until the backend answers again; a store that has nothing to give up on leaves it
   * out. It must return at once and never throw.
   */
  callTimedOut?(method: string): void;
}
