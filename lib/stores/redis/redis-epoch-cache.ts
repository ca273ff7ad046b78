import type { Logger } from '@nestjs/common';
import type { RunCommand } from './redis-failure-detector.js';
import type { RedisKeys } from './redis-keys.js';
import { parseEpoch } from './redis-record.js';

/** How long a cached user epoch is trusted at most, even without news from pub/sub. */
const EPOCH_CACHE_MS = 30_000;
const EPOCH_CACHE_SIZE = 10_000;

/**
 * The users' epochs as this server last read them from Redis, so that `get` of a connected session costs one round
 * trip. Another server's `closeUser` invalidates an entry through pub/sub; until its message arrives here, a cached
 * epoch may be one behind (the script that indexes a new session is the first line against a stale one, this cache
 * the second).
 *
 * Trusted only while the subscription is live (`trusted`), cleared whenever it comes back (messages may have been
 * missed), an entry at most 30 s and never past the life of the user's hash (whose expiry resets the epoch to 0).
 * Insertion-ordered: past 10,000 users the oldest entry goes.
 */
export class UserEpochCache {
  private readonly entries = new Map<string, { epoch: number; until: number }>();
  /** Bumped by every invalidation: an epoch read that started before one is not cached. */
  private generation = 0;

  constructor(
    private readonly keys: RedisKeys,
    private readonly run: RunCommand,
    private readonly trusted: () => boolean,
    private readonly logger: Logger,
  ) {}

  /** The user's epoch from the cache, while it is trusted and the entry fresh (no await on a hit). */
  cached(userId: string, now: number): number | undefined {
    const cached = this.trusted() ? this.entries.get(userId) : undefined;
    return cached !== undefined && cached.until > now ? cached.epoch : undefined;
  }

  /** The user's epoch, from the cache or from Redis; undefined (logged) when it is corrupt. */
  async of(userId: string): Promise<number | undefined> {
    const now = Date.now();
    return this.cached(userId, now) ?? this.fetch(userId, now);
  }

  /** The user's epoch from Redis, cached while trusted; undefined (logged) when it is corrupt. */
  async fetch(userId: string, now: number): Promise<number | undefined> {
    const generation = this.generation;
    const reply = await this.run((c) => c.nestjsConnectedEpoch(this.keys.user(userId)));
    const epoch = parseEpoch(Array.isArray(reply) ? reply[0] : undefined);
    if (epoch === undefined) {
      this.logger.warn('Ignored a user epoch in Redis that is not a number (the user’s sessions are refused)');
      return undefined;
    }
    const ttl = Array.isArray(reply) && typeof reply[1] === 'number' && reply[1] > 0 ? reply[1] : EPOCH_CACHE_MS;
    if (this.trusted() && generation === this.generation) {
      this.entries.delete(userId);
      this.entries.set(userId, { epoch, until: now + Math.min(ttl, EPOCH_CACHE_MS) });
      if (this.entries.size > EPOCH_CACHE_SIZE) this.entries.delete(this.entries.keys().next().value as string);
    }
    return epoch;
  }

  /** The user's epoch changed (a `closeUser` here or on another server). */
  forget(userId: string): void {
    this.entries.delete(userId);
    this.generation++;
  }

  /** Messages may have been missed: nothing cached can be trusted. */
  clear(): void {
    this.entries.clear();
    this.generation++;
  }
}
