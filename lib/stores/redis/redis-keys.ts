/**
 * Key names of {@link RedisStore}. Everything of one user shares the hash tag `{u:<escaped id>}`, so that the
 * user's index, epoch and fields sit on one Redis Cluster slot and one script can change them together; each
 * session hash and each expiry shard hashes on its own name, spreading sessions over the cluster.
 *
 * ```
 * <prefix>s:<key>                  hash: one session (meta fields, and `d:<field>` per persisted value)
 * <prefix>x:<0..15>                sorted set: session key -> when it expires (the expiry sweeper's work list)
 * <prefix>anon                     sorted set: anonymous session key -> when it was stored (for maxAnonymous)
 * <prefix>{<prefix>anon}:a:<addr>  sorted set: the same, of one client address (for maxPerAddress); `:n` for none
 * <prefix>{u:<id>}:sessions        sorted set: the user's session keys -> createdAt
 * <prefix>{u:<id>}:user            hash: `epoch`, and `f:<name>` per persisted user value
 * <prefix>removals                 pub/sub channel: removals and epoch changes, for the other servers
 * ```
 */
export class RedisKeys {
  /** How many sorted sets share the expiry schedule: on a cluster, the sweep's load spreads over the nodes. */
  static readonly EXPIRY_SHARDS = 16;

  /** What the per-address sets' names start with: the prefix, and what puts them on the slot of {@link anonymous}. */
  private readonly addressBase: string;
  /** What every session's name starts with. */
  private readonly sessionHead: string;

  constructor(readonly prefix: string) {
    const anonymous = this.anonymous;
    // A name with a hash tag keeps its slot whatever follows it (a prefix such as `{app}:`); a name without one is
    // hashed whole, as a tag holding that same name is. A prefix with a brace that opens no tag leaves no name
    // starting with it on that slot: such a prefix does not work on a Cluster.
    this.addressBase = hasHashTag(anonymous) || /[{}]/.test(anonymous) ? anonymous : `${prefix}{${anonymous}}`;
    this.sessionHead = `${prefix}s:`;
  }

  session(key: string): string {
    return this.sessionHead + key;
  }

  /** The session key a Redis key names (the inverse of {@link session}), or undefined for any other key. */
  sessionKeyOf(name: string): string | undefined {
    const head = this.sessionHead;
    return name.length > head.length && name.startsWith(head) ? name.slice(head.length) : undefined;
  }

  expiryShard(shard: number): string {
    return `${this.prefix}x:${shard}`;
  }

  /** The expiry shard of a session key (FNV-1a over its UTF-16 code units). */
  expiryShardOf(key: string): string {
    let hash = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) {
      hash ^= key.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    return this.expiryShard(hash % RedisKeys.EXPIRY_SHARDS);
  }

  get anonymous(): string {
    return `${this.prefix}anon`;
  }

  /**
   * The anonymous sessions of one client address (the record's `ip`, escaped as user ids are; `n` for records
   * without one), on the Cluster slot of {@link anonymous}, so that one script bounds both.
   */
  anonymousOf(ip: string | undefined): string {
    return `${this.addressBase}:${ip === undefined ? 'n' : `a:${escapeKeyPart(ip)}`}`;
  }

  userSessions(userId: string): string {
    return `${this.userTag(userId)}:sessions`;
  }

  user(userId: string): string {
    return `${this.userTag(userId)}:user`;
  }

  get channel(): string {
    return `${this.prefix}removals`;
  }

  /**
   * `{u:<id>}` with every character outside `A-Z a-z 0-9 _ . @ -` written as `%` and four hex digits of its UTF-16
   * code unit: a `}` or `{` in a user id cannot end or open the hash tag, and distinct ids (even ill-formed UTF-16,
   * which Redis would store as U+FFFD) never share keys.
   */
  private userTag(userId: string): string {
    return `${this.prefix}{u:${escapeKeyPart(userId)}}`;
  }
}

/** Every character outside `A-Z a-z 0-9 _ . @ -` as `%` and four hex digits of its UTF-16 code unit. */
function escapeKeyPart(text: string): string {
  return text.replace(/[^A-Za-z0-9_.@-]/g, (char) => `%${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Whether Redis Cluster hashes `key` on a tag: a `{`, then a `}` after it with at least one character between. */
function hasHashTag(key: string): boolean {
  const open = key.indexOf('{');
  return open !== -1 && key.indexOf('}', open + 1) > open + 1;
}
