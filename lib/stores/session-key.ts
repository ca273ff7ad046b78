/** Where a value lives and how long. See the README, "Scopes". */
export type SessionScope = 'process' | 'session' | 'user' | 'browser';

/** Turns a value into the string a store keeps, and back. */
export interface SessionValueCodec<T> {
  serialize(value: T): string;
  deserialize(text: string): T;
}

/** Options of a {@link SessionKey}. */
export interface SessionKeyOptions<T> {
  /** Default `'session'`. */
  scope?: SessionScope;
  /**
   * Keep the value in the store (JSON by default, or with the given codec): it survives restarts and every server
   * sees it. Without it, the value stays in the memory of the server that set it (sockets, handles, mutexes).
   * Not allowed on `process` keys, whose values live with a connection.
   */
  persist?: boolean | SessionValueCodec<T>;
  /** Runs exactly once when the value is dropped with its session (Simple_httpd `cleanup_delete`). */
  onDelete?: (value: T) => void | Promise<void>;
  /**
   * Runs when the last live client of the session leaves (Simple_httpd `cleanup_no_client`): `false` drops the
   * value without `onDelete`, `true` keeps it.
   */
  onNoClient?: (value: T) => boolean | Promise<boolean>;
}

/**
 * A callback type checked bivariantly (method syntax), so that a `SessionKey<Cart>` is usable wherever a
 * `SessionKey<unknown>` is expected, as in `remove()`.
 */
type Callback<T, R> = { bivariant(value: T): R }['bivariant'];

const KEY_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;
/**
 * `JSON.stringify`'s text, with a finite number written by `String` and a boolean as a constant: V8 14 (Node 26)
 * makes each `JSON.stringify` of a number a string of its own, 24 B for a one-digit counter in every session a store
 * keeps, where `String` answers from V8's number-string cache and its single-character strings.
 */
function toJson(value: unknown): string {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return JSON.stringify(value);
}

const JSON_CODEC: SessionValueCodec<unknown> = {
  serialize: toJson,
  deserialize: (text) => JSON.parse(text) as unknown,
};

/**
 * A typed name for a value kept with a session (Simple_httpd `new_key`). Create keys once, at module level, and
 * share them: the name identifies the value in the store, so two keys may not share a name.
 */
export class SessionKey<T> {
  private static readonly byName = new Map<string, SessionKey<unknown>>();

  readonly scope: SessionScope;
  /** The codec of a persisted key; undefined for keys whose values stay in memory. */
  readonly codec: SessionValueCodec<T> | undefined;
  readonly onDelete: Callback<T, void | Promise<void>> | undefined;
  readonly onNoClient: Callback<T, boolean | Promise<boolean>> | undefined;

  constructor(
    readonly name: string,
    options: SessionKeyOptions<T> = {},
  ) {
    if (typeof name !== 'string' || !KEY_NAME.test(name)) {
      throw new Error(`SessionKey: the name '${String(name)}' must be 1-128 characters of A-Z a-z 0-9 _ . : -`);
    }
    const scope = options.scope ?? 'session';
    if (!['process', 'session', 'user', 'browser'].includes(scope)) {
      throw new Error(`SessionKey '${name}': unknown scope '${String(scope)}'`);
    }
    if (scope === 'process' && options.persist) {
      throw new Error(`SessionKey '${name}': process-scoped values live with their connection and cannot persist`);
    }
    const existing = SessionKey.byName.get(name);
    if (existing !== undefined) {
      throw new Error(`SessionKey: a key named '${name}' exists already; create each key once and share it`);
    }
    this.scope = scope;
    this.codec = options.persist === true ? (JSON_CODEC as SessionValueCodec<T>) : options.persist ? options.persist : undefined;
    this.onDelete = options.onDelete;
    this.onNoClient = options.onNoClient;
    SessionKey.byName.set(name, this);
  }

  /** The key created with this name, if any. */
  static named(name: string): SessionKey<unknown> | undefined {
    return SessionKey.byName.get(name);
  }
}
