import type { Logger } from '@nestjs/common';
import type { RunCommand } from './redis-failure-detector.js';
import type { RedisKeys } from './redis-keys.js';
import { parseEpoch } from './redis-record.js';

/** How long a cached user epoch is trusted at most, even without news from pub/sub. */
const EPOCH_CACHE_MS = 30_000;
const EPOCH_CACHE_SIZE = 10_000;

/**
 * A user's epoch as this server last read it from Redis, good while `until` is ahead. The cache revokes it (`until`
 * drops to 0) the moment it stops vouching for it: the user closed here or elsewhere, the subscription lost, the
 * entry replaced or evicted. So a holder that checked a record's epoch against it once needs only `until` from then
 * on: the near cache keeps it beside a copy, and a hit of that copy costs no look-up of the user.
 */
export interface EpochLease {
  readonly userId: string;
  readonly epoch: number;
  /** Time (ms) until which the epoch is good; 0 once revoked. */
  readonly until: number;
}

interface Lease {
  readonly userId: string;
  readonly epoch: number;
  until: number;
}

/**
 * The users' epochs as this server last read them from Redis, so that `get` of a connected session costs one round
 * trip. Another server's `closeUser` invalidates an entry through pub/sub; until its message arrives here, a cached
 * epoch may be one behind (the script that indexes a new session is the first line against a stale one, this cache
 * the second).
 *
 * Kept only while the subscription is live (`trusted`); everything is revoked when it goes down ({@link clear}), so
 * that a lease still good is one the subscription has been covering since it was read. An entry lasts at most 30 s
 * and never past the life of the user's hash (whose expiry resets the epoch to 0). Insertion-ordered: past 10,000
 * users the oldest entry goes.
 */
export class UserEpochCache {
  private readonly entries = new Map<string, Lease>();
  /** Bumped by every invalidation: an epoch read that started before one is not cached, nor joined. */
  private generation = 0;
  /** Reads of an epoch in flight, by user: a read of the same epoch joins one while no invalidation came since. */
  private readonly fetching = new Map<string, { readonly generation: number; readonly lease: Promise<EpochLease | undefined> }>();

  constructor(
    private readonly keys: RedisKeys,
    private readonly run: RunCommand,
    private readonly trusted: () => boolean,
    private readonly logger: Logger,
  ) {}

  /** The user's lease from the cache, while it is trusted and good at `now` (no await on a hit). */
  cached(userId: string, now: number): EpochLease | undefined {
    const lease = this.trusted() ? this.entries.get(userId) : undefined;
    return lease !== undefined && lease.until > now ? lease : undefined;
  }

  /** The user's epoch, from the cache or from Redis; undefined (logged) when it is corrupt. */
  async of(userId: string): Promise<number | undefined> {
    const now = Date.now();
    return (this.cached(userId, now) ?? (await this.fetch(userId, now)))?.epoch;
  }

  /**
   * The user's epoch from Redis, cached while trusted (a lease that is not kept comes back already revoked: good for
   * the check of the moment only); undefined (logged) when it is corrupt. While trusted, a burst of reads of one
   * user's epoch (its sessions' requests when its lease ran out) joins the read in flight.
   */
  fetch(userId: string, now: number): Promise<EpochLease | undefined> {
    const trusted = this.trusted();
    const joined = trusted ? this.fetching.get(userId) : undefined;
    if (joined !== undefined && joined.generation === this.generation) return joined.lease;
    const flight = { generation: this.generation, lease: this.read(userId, now) };
    if (!trusted) return flight.lease;
    this.fetching.set(userId, flight);
    const done = () => {
      if (this.fetching.get(userId) === flight) this.fetching.delete(userId);
    };
    flight.lease.then(done, done);
    return flight.lease;
  }

  private async read(userId: string, now: number): Promise<EpochLease | undefined> {
    const generation = this.generation;
    const reply = await this.run((c) => c.nestjsConnectedEpoch(this.keys.user(userId)));
    const epoch = parseEpoch(Array.isArray(reply) ? reply[0] : undefined);
    if (epoch === undefined) {
      this.logger.warn('Ignored a user epoch in Redis that is not a number (the user’s sessions are refused)');
      return undefined;
    }
    const ttl = Array.isArray(reply) && typeof reply[1] === 'number' && reply[1] > 0 ? reply[1] : EPOCH_CACHE_MS;
    const lease: Lease = { userId, epoch, until: 0 };
    if (this.trusted() && generation === this.generation) {
      this.drop(userId);
      lease.until = now + Math.min(ttl, EPOCH_CACHE_MS);
      this.entries.set(userId, lease);
      if (this.entries.size > EPOCH_CACHE_SIZE) this.drop(this.entries.keys().next().value as string);
    }
    return lease;
  }

  /** The user's epoch changed (a `closeUser` here or on another server). */
  forget(userId: string): void {
    this.drop(userId);
    this.generation++;
  }

  /** Messages may have been missed, or may be missed from now on: nothing cached can be trusted. */
  clear(): void {
    for (const lease of this.entries.values()) lease.until = 0;
    this.entries.clear();
    this.generation++;
  }

  private drop(userId: string): void {
    const lease = this.entries.get(userId);
    if (lease === undefined) return;
    lease.until = 0;
    this.entries.delete(userId);
  }
}
