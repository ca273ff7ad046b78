import type { Cluster, Redis } from 'ioredis';
import type { NearCacheBounds } from './redis-near-cache.js';

/** Options of `RedisStore`: give `client` or `url`. */
export interface RedisStoreOptions {
  /**
   * A client of yours (`new Redis(...)` or `new Cluster([...])` from ioredis). The store defines its scripts on it
   * and duplicates it once for pub/sub; it closes that duplicate on shutdown, never your client. Give it bounded
   * behaviour for outages (`enableOfflineQueue: false`, `commandTimeout`): the store drops a hung connection only
   * when it is its own, so on yours a command Redis never answers waits as long as your client lets it (the request
   * that sent it has had its 503 at `storeTimeout` all the same).
   */
  client?: Redis | Cluster;
  /** A Redis URL (`redis://`, `rediss://`): the store creates its client, connects it on start-up, quits it on shutdown. */
  url?: string;
  /** Prepended to every key and to the pub/sub channel, so that several applications can share one Redis. Default `nc:`. */
  prefix?: string;
  /**
   * How long one command of the store's own work, which no request waits on, may take: the expiry sweeper's
   * commands, the pub/sub publishes, the PING that checks whether Redis is back, QUIT on shutdown. Past it the store
   * fails fast, as when a call misses `storeTimeout`. Calls made for a request are bounded by the policy's
   * `storeTimeout` alone. Default 1000.
   */
  commandTimeoutMs?: number;
  /**
   * Keeps the records this server read recently in its memory, invalidated by Redis itself (`CLIENT TRACKING`), so
   * that a read of a known session costs no round trip. A copy is used only while the invalidation connection is up
   * (and answered a PING within the last 0.6 s) and has been up since the copy was made, and never while Redis is
   * failing. Bounded: least recently used first out (approximately) past `maxEntries` records (default 10,000) or `maxBytes`
   * estimated bytes (default 16 MiB). `false` turns it off. On a Cluster, every master is tracked; a Cluster client that reads from replicas
   * (`scaleReads`) gets no near cache.
   */
  nearCache?: false | { maxEntries?: number; maxBytes?: number };
}

/** The options checked, with their defaults. */
export interface ResolvedOptions {
  readonly client: Redis | Cluster | undefined;
  readonly url: string | undefined;
  readonly prefix: string;
  readonly commandTimeoutMs: number;
  /** Undefined: no near cache. */
  readonly nearCache: NearCacheBounds | undefined;
}

const NEAR_CACHE_ENTRIES = 10_000;
const NEAR_CACHE_BYTES = 16 * 1024 * 1024;

function resolveNearCache(option: RedisStoreOptions['nearCache']): NearCacheBounds | undefined {
  if (option === false) return undefined;
  if (option !== undefined && (option === null || typeof option !== 'object')) {
    throw new Error('RedisStore: nearCache must be false or an object');
  }
  const maxEntries = option?.maxEntries ?? NEAR_CACHE_ENTRIES;
  if (!Number.isSafeInteger(maxEntries) || maxEntries <= 0) {
    throw new Error('RedisStore: nearCache.maxEntries must be a positive integer');
  }
  const maxBytes = option?.maxBytes ?? NEAR_CACHE_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) throw new Error('RedisStore: nearCache.maxBytes must be a positive integer');
  return { maxEntries, maxBytes };
}

/** Throws, naming the option, when `options` is not usable. */
export function resolveOptions(options: RedisStoreOptions): ResolvedOptions {
  const { client, url } = options ?? {};
  if ((client === undefined) === (url === undefined)) {
    throw new Error('RedisStore: give exactly one of `client` and `url`');
  }
  const prefix = options.prefix ?? 'nc:';
  if (typeof prefix !== 'string') throw new Error('RedisStore: prefix must be a string');
  const commandTimeoutMs = options.commandTimeoutMs ?? 1000;
  if (!Number.isFinite(commandTimeoutMs) || commandTimeoutMs <= 0) {
    throw new Error('RedisStore: commandTimeoutMs must be a positive number');
  }
  return { client, url, prefix, commandTimeoutMs, nearCache: resolveNearCache(options.nearCache) };
}
