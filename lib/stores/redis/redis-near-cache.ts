import type { SessionRecord } from '../session-record.js';
import type { EpochLease } from './redis-epoch-cache.js';

/** The bounds of a {@link NearCache}. */
export interface NearCacheBounds {
  readonly maxEntries: number;
  readonly maxBytes: number;
}

interface Entry {
  readonly record: SessionRecord;
  readonly bytes: number;
  /** The cache's generation when the record was read: an entry of an older one is a miss. */
  readonly generation: number;
  /** Read since eviction last passed it over: it is passed over once more (second chance) instead of going. */
  used: boolean;
  /** For a user's session: the lease of that user's epoch the record was checked against ({@link NearCache.lease}). */
  lease: EpochLease | undefined;
}

/** A read in flight: cached at its end only if nothing invalidated its key (or everything) meanwhile. */
export interface NearRead {
  readonly key: string;
  readonly generation: number;
  /**
   * Whether the cache was trusted when the read began: a read sent before tracking was confirmed on its connection
   * (queued while it reconnected) is not tracked by Redis, so nothing would ever invalidate its copy.
   */
  readonly trusted: boolean;
}

/** Per entry, besides its strings: the Map slot, the entry, the record and its data object. */
const ENTRY_OVERHEAD_BYTES = 200;
/** Per string held: V8's header; characters are counted two bytes each (the worst case). */
const STRING_OVERHEAD_BYTES = 16;

/** What a record costs to hold, estimated from its strings (two bytes a character) and a fixed overhead. */
export function recordBytes(key: string, record: SessionRecord): number {
  let bytes = ENTRY_OVERHEAD_BYTES + stringBytes(key);
  if (record.userId !== undefined) bytes += stringBytes(record.userId);
  if (record.actorId !== undefined) bytes += stringBytes(record.actorId);
  if (record.ip !== undefined) bytes += stringBytes(record.ip);
  if (record.userAgent !== undefined) bytes += stringBytes(record.userAgent);
  for (const name in record.data) bytes += stringBytes(name) + stringBytes(record.data[name]);
  return bytes;
}

function stringBytes(text: string): number {
  return STRING_OVERHEAD_BYTES + 2 * text.length;
}

/**
 * A copy the caller may change (the engine writes a record's `data` in place), built as one literal with the optional
 * fields added in a fixed order, as MemoryStore builds its records: every copy has one of a few shapes, and `data` is
 * a spread of an object of that kind. (A spread of the whole record, or a null-prototype `data`, which V8 keeps as a
 * dictionary, cost this every request's read several times over.) Copying an own `__proto__` field by spread defines
 * it as a plain own property, as MemoryStore's copies do.
 */
export function copyOf(record: SessionRecord): SessionRecord {
  const copy: SessionRecord = {
    epoch: record.epoch,
    createdAt: record.createdAt,
    lastSeenAt: record.lastSeenAt,
    idleExpiresAt: record.idleExpiresAt,
    absoluteExpiresAt: record.absoluteExpiresAt,
    data: { ...record.data },
  };
  if (record.userId !== undefined) copy.userId = record.userId;
  if (record.authenticatedAt !== undefined) copy.authenticatedAt = record.authenticatedAt;
  if (record.browserSessionCookie !== undefined) copy.browserSessionCookie = record.browserSessionCookie;
  if (record.actorId !== undefined) copy.actorId = record.actorId;
  if (record.actorEpoch !== undefined) copy.actorEpoch = record.actorEpoch;
  if (record.ip !== undefined) copy.ip = record.ip;
  if (record.userAgent !== undefined) copy.userAgent = record.userAgent;
  return copy;
}

/**
 * The session records this server read recently, by session key, bounded in entries and estimated bytes (least recently
 * used first out, as the CLOCK algorithm approximates it: a hit only marks its entry, so that the read of every request
 * changes no Map; eviction passes over a marked entry once, unmarking it and moving it to the end). It knows nothing of Redis: its owner says when a key changed ({@link invalidate}, {@link changing}),
 * when everything may have ({@link flush}, also on any outage of the invalidation path) and when it may be trusted.
 *
 * A read marks its key before it is sent ({@link beginRead}) and offers its result at the end ({@link endRead}): an
 * invalidation of that key, or a flush, in between (it may arrive on another connection before the read's reply)
 * means the result is returned to its caller but not kept.
 */
export class NearCache {
  /** Insertion order, with the `used` marks, is recency: eviction moves a marked entry to the end. */
  private readonly entries = new Map<string, Entry>();
  /**
   * Reads in flight by key: how many, and whether the key was invalidated since the first of them began (then none
   * of them is kept: a later read of the same key must not clear an earlier one's mark).
   */
  private readonly reading = new Map<string, { count: number; dirty: boolean }>();
  private generation = 0;
  private bytes = 0;

  /**
   * `trusted`: whether a copy may be served now (the invalidation path is up, Redis is not failing). `keyOf`: the
   * cache's key for a name an invalidation message gives (a Redis key), undefined for a name it holds nothing under.
   * Keyed by the session key, a hit hashes the string the request already holds, not a Redis key built for it.
   */
  constructor(
    private readonly bounds: NearCacheBounds,
    private readonly trusted: () => boolean,
    private readonly keyOf: (name: string) => string | undefined = (name) => name,
  ) {}

  /** Entries held now. */
  get size(): number {
    return this.entries.size;
  }

  /** Estimated bytes held now. */
  get heldBytes(): number {
    return this.bytes;
  }

  /** A copy of the record cached under `key` (made since the last flush), or undefined; none while not trusted. */
  lookup(key: string): SessionRecord | undefined {
    const entry = this.entryOf(key);
    return entry === undefined ? undefined : this.hit(entry);
  }

  /**
   * A copy that may be served as it is: {@link lookup}'s, of an anonymous session or of a user's whose lease is still
   * good at `now`. A user's copy without one is undefined: the store's read checks its epoch and leases it.
   */
  leased(key: string, now: number): SessionRecord | undefined {
    const entry = this.entryOf(key);
    if (entry === undefined) return undefined;
    if (entry.record.userId !== undefined && (entry.lease === undefined || entry.lease.until <= now)) return undefined;
    return this.hit(entry);
  }

  /**
   * Keeps `lease` beside the copy held under `key`, if it is a copy of the lease's user that is not behind the
   * lease's epoch: from then on, until the lease is revoked or runs out, a hit of it needs no check of its epoch.
   */
  lease(key: string, lease: EpochLease): void {
    const entry = this.entryOf(key);
    if (entry === undefined || entry.record.userId !== lease.userId || entry.record.epoch < lease.epoch) return;
    entry.lease = lease;
  }

  /** Marks `key` as being read, before the read is sent. */
  beginRead(key: string): NearRead {
    const mark = this.reading.get(key);
    if (mark === undefined) this.reading.set(key, { count: 1, dirty: false });
    else mark.count++;
    return { key, generation: this.generation, trusted: this.trusted() };
  }

  /**
   * Whether `read`, still in flight, would be kept if it ended now: the cache trusted then and now, neither its key
   * nor everything invalidated since it began. Its result is then as good as a copy the cache would serve.
   */
  current(read: NearRead): boolean {
    const mark = this.reading.get(read.key);
    return mark !== undefined && !mark.dirty && read.trusted && read.generation === this.generation && this.trusted();
  }

  /**
   * Ends a read: `record` (what it found, if anything) is kept only when the cache was trusted as it began and
   * neither its key nor everything was invalidated since. The caller gets its own copy either way, so the one kept is the cache's alone.
   */
  endRead(read: NearRead, record: SessionRecord | undefined): void {
    const mark = this.reading.get(read.key);
    const dirty = mark?.dirty ?? true;
    if (mark !== undefined && --mark.count === 0) this.reading.delete(read.key);
    if (record === undefined || dirty || !read.trusted || read.generation !== this.generation) return;
    this.store(read.key, copyOf(record));
  }

  /** Redis says the key `name` changed: {@link invalidate} of the cache's key for it, if it has one. */
  invalidated(name: string): void {
    const key = this.keyOf(name);
    if (key !== undefined) this.invalidate(key);
  }

  /** `key` changed (here or on another server): its copy goes, and reads in flight of it will not be kept. */
  invalidate(key: string): void {
    const entry = this.entries.get(key);
    if (entry !== undefined) this.remove(key, entry);
    const mark = this.reading.get(key);
    if (mark !== undefined) mark.dirty = true;
  }

  /**
   * A write of this server to `key`: its copy goes before the write is sent and again once it is done, so that a read
   * answered in between (with the record as it was) cannot keep it past the write, whatever the invalidation's delay.
   */
  async changing<T>(key: string, write: () => Promise<T>): Promise<T> {
    this.invalidate(key);
    try {
      return await write();
    } finally {
      this.invalidate(key);
    }
  }

  /** Anything may have changed: every copy goes, and no read in flight now will be kept. */
  flush(): void {
    this.generation++;
    this.entries.clear();
    this.bytes = 0;
  }

  private store(key: string, record: SessionRecord): void {
    const bytes = recordBytes(key, record);
    const old = this.entries.get(key);
    if (old !== undefined) this.remove(key, old);
    if (bytes > this.bounds.maxBytes) return;
    this.entries.set(key, { record, bytes, generation: this.generation, used: false, lease: undefined });
    this.bytes += bytes;
    while (this.entries.size > this.bounds.maxEntries || this.bytes > this.bounds.maxBytes) {
      const [oldest, entry] = this.entries.entries().next().value as [string, Entry];
      this.entries.delete(oldest);
      if (entry.used || oldest === key) {
        // A second chance: read since it was last passed over, it goes to the end, unmarked (and the entry just
        // stored never goes: it was just read). After one pass nothing is marked, so this ends.
        entry.used = false;
        this.entries.set(oldest, entry);
      } else {
        this.bytes -= entry.bytes;
      }
    }
  }

  /** The entry under `key` that may be used: trusted, made since the last flush (an older one goes). */
  private entryOf(key: string): Entry | undefined {
    if (this.entries.size === 0 || !this.trusted()) return undefined;
    const entry = this.entries.get(key);
    if (entry === undefined || entry.generation === this.generation) return entry;
    this.remove(key, entry);
    return undefined;
  }

  private hit(entry: Entry): SessionRecord {
    entry.used = true;
    return copyOf(entry.record);
  }

  private remove(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.bytes -= entry.bytes;
  }
}
