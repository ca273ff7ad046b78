import type { Logger } from '@nestjs/common';
import { describeError } from '../../util/describe-error.js';
import { expiresAt, type SessionRecord } from '../session-record.js';
import { isWrongType } from './redis-client.js';
import type { UserEpochCache } from './redis-epoch-cache.js';
import type { RunCommand } from './redis-failure-detector.js';
import type { RedisKeys } from './redis-keys.js';
import { copyOf, type NearCache, type NearRead } from './redis-near-cache.js';
import type { RedisRemovals } from './redis-removals.js';

/** A read from Redis in flight, which later reads of its key may join. */
interface Flight {
  readonly near: NearRead;
  /** The record as read and checked: the caller that sent the read gets it as it is unless others joined. */
  readonly result: Promise<SessionRecord | undefined>;
  /** Reads that joined it, each getting a copy. Final once the read ended: a read that ended is joined no more. */
  joiners: number;
}

/**
 * `get` of RedisStore: the read of every request. A record from the near cache when it has one it may serve, else
 * one HGETALL (offered to the near cache); either way checked against its expiry and its user's epoch. With the near
 * cache on, a read of a key whose HGETALL is in flight, with nothing invalidated since it was sent, joins it.
 */
export class RedisSessionReader {
  private readonly flights = new Map<string, Flight>();

  constructor(
    private readonly keys: RedisKeys,
    private readonly run: RunCommand,
    private readonly epochs: UserEpochCache,
    private readonly removals: RedisRemovals,
    private readonly near: NearCache | undefined,
    private readonly logger: Logger,
  ) {}

  /**
   * The session's record from the near cache, with the checks of {@link read}: not expired, and for a user's session
   * held under a lease of its user's epoch that is still good (the epoch was checked when the copy was leased); or
   * undefined when it must be read from Redis. No I/O, no removal.
   */
  cached(key: string): SessionRecord | undefined {
    const now = Date.now();
    const record = this.near?.leased(key, now);
    return record === undefined || expiresAt(record) <= now ? undefined : record;
  }

  /**
   * A session's hash, flat, for a listing: a plain HGETALL, one command, never cached; a key of another type reads as
   * none (an empty list).
   */
  hash(key: string): Promise<unknown> {
    return this.run((c) => c.call('HGETALL', this.keys.session(key))).catch((error: unknown) => {
      if (isWrongType(error)) return [];
      throw error;
    });
  }

  /**
   * The record from Redis, removed when expired or behind its user's epoch. When the near cache holds a live copy
   * and only its user's epoch is not cached (it is kept 30 s at most), the epoch alone is read: the copy is as good
   * as an HGETALL sent now, Redis tracking it for this server.
   *
   * A burst of requests of one session right after a write would send an HGETALL each; joining the one in flight is
   * as safe as a cached copy would be (Redis tracks it for this server, and any invalidation of the key since it was
   * sent, this server's own writes first, means a read of its own).
   */
  async read(key: string): Promise<SessionRecord | undefined> {
    const held = this.near?.lookup(key);
    if (held?.userId !== undefined && expiresAt(held) > Date.now()) return this.ofLiveUser(key, held, held.userId);
    if (this.near === undefined) return this.fetch(key, undefined);
    const joined = this.flights.get(key);
    if (joined !== undefined && this.near.current(joined.near)) {
      joined.joiners++;
      return copied(await joined.result);
    }
    const near = this.near.beginRead(key);
    const flight: Flight = { near, result: this.fetch(key, near), joiners: 0 };
    this.flights.set(key, flight);
    try {
      const record = await flight.result;
      // The engine writes a record's data in place, and the joiners copy this one after this caller has it.
      return flight.joiners === 0 ? record : copied(record);
    } finally {
      if (this.flights.get(key) === flight) this.flights.delete(key);
    }
  }

  /** One HGETALL of `key`, offered to the near cache as `near`, and the checks of {@link read}. */
  private async fetch(key: string, near: NearRead | undefined): Promise<SessionRecord | undefined> {
    const session = this.keys.session(key);
    // A plain HGETALL, not a script: the read of every request; a key of another type answers WRONGTYPE.
    let reply: unknown;
    try {
      reply = await this.run((c) => c.call('HGETALL', session));
    } catch (error) {
      if (near !== undefined) this.near!.endRead(near, undefined);
      if (!isWrongType(error)) throw error;
      this.logger.warn('Ignored a session key in Redis that is not a hash (no session)');
      return undefined;
    }
    const record = Array.isArray(reply) && reply.length > 0 ? this.removals.decode(reply) : undefined;
    if (near !== undefined) this.near!.endRead(near, record);
    if (record === undefined) return undefined;
    const now = Date.now();
    if (expiresAt(record) <= now) {
      await this.removals
        .expire(key, now, this.run)
        .catch((error: unknown) => this.logger.warn(`Removing an expired session: ${describeError(error)}`));
      return undefined;
    }
    return record.userId === undefined ? record : this.ofLiveUser(key, record, record.userId);
  }

  /**
   * `record` (of `userId`, not expired) when its epoch is its user's, else undefined (removed when behind it). A
   * copy the near cache holds of it is leased on the epoch it was checked against.
   */
  private async ofLiveUser(key: string, record: SessionRecord, userId: string): Promise<SessionRecord | undefined> {
    const now = Date.now();
    const lease = this.epochs.cached(userId, now) ?? (await this.epochs.fetch(userId, now));
    if (lease === undefined) return undefined;
    if (record.epoch < lease.epoch) {
      await this.removals
        .dropStale(key, lease.epoch, this.run)
        .catch((error: unknown) => this.logger.warn(`Removing a closed session: ${describeError(error)}`));
      return undefined;
    }
    this.near?.lease(key, lease);
    return record;
  }
}

function copied(record: SessionRecord | undefined): SessionRecord | undefined {
  return record === undefined ? undefined : copyOf(record);
}
