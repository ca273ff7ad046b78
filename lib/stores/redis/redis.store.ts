import { Logger } from '@nestjs/common';
import { describeError } from '../../util/describe-error.js';
import { keepStringMethodsFast } from '../../util/fast-string-methods.js';
import { expiresAt, FIELD_PREFIX, LONE_SURROGATE, type SessionRecord } from '../session-record.js';
import type { SessionStore, StoreLimits, StoreRemoval } from '../session-store.js';
import { StoreListeners } from '../store-listeners.js';
import { RemovalChannel, type ChannelEvents } from './redis-channel.js';
import { connectClient, createClient, type StoreClient } from './redis-client.js';
import { UserEpochCache } from './redis-epoch-cache.js';
import { ExpirySweeper } from './redis-expiry-sweeper.js';
import { RedisFailureDetector, type RunCommand } from './redis-failure-detector.js';
import { RedisKeys } from './redis-keys.js';
import { RedisIndexes } from './redis-indexes.js';
import type { NearCache } from './redis-near-cache.js';
import { DATA_FIELD, encodeRecord, parseEpoch } from './redis-record.js';
import { RedisRemovals } from './redis-removals.js';
import { RedisSessionReader } from './redis-session-reader.js';
import { resolveOptions, type RedisStoreOptions } from './redis-store-options.js';
import { defineScripts } from './redis-scripts.js';
import { InvalidationTracking } from './redis-tracking.js';
import { EXPIRY_GRACE_MS, redisTime, USER_FLOOR_MS } from './redis-ttl.js';
import { RedisUserCloser } from './redis-user-closer.js';

export type { RedisStoreOptions } from './redis-store-options.js';

const OPEN_TIMEOUT_MS = 10_000;

/**
 * A {@link SessionStore} on Redis (standalone or Cluster, Redis 7+), for many servers sharing sessions. Import it
 * from `nestjs-connected/redis`; `ioredis` must be installed. Requires `open()` before use (the library calls it).
 *
 * One hash per session (a field per persisted value, so that two servers writing different keys both win), a
 * per-user index and epoch, Lua scripts for every conditional write, a TTL on every key, pub/sub so that every server
 * hears of closed sessions ({@link RemovalChannel}), an expiry schedule swept once a second ({@link ExpirySweeper}).
 * `get` costs one round trip: the user's epoch comes from a per-server cache ({@link UserEpochCache}); none for a
 * session read recently, while the near cache can be trusted ({@link NearCache}, {@link InvalidationTracking}).
 *
 * A call made for a request is bounded by the policy's `storeTimeout` alone. When one misses it
 * ({@link callTimedOut}) or a command cannot be sent, every call fails at once until a PING answers
 * ({@link RedisFailureDetector}).
 */
export class RedisStore implements SessionStore {
  private readonly logger = new Logger('RedisStore');
  private readonly client: StoreClient;
  private readonly ownsClient: boolean;
  private readonly keys: RedisKeys;
  private readonly listeners = new StoreListeners(this.logger);
  private readonly detector: RedisFailureDetector;
  /** Sends a command made for a request: no timer of its own, `storeTimeout` bounds the call. */
  private readonly run: RunCommand;
  private readonly channel: RemovalChannel;
  private readonly epochs: UserEpochCache;
  private readonly removals: RedisRemovals;
  private readonly indexes: RedisIndexes;
  private readonly sweeper: ExpirySweeper;
  private readonly userCloser: RedisUserCloser;
  /** Undefined when turned off, or on a Cluster that reads from replicas. */
  private readonly near: NearCache | undefined;
  private readonly tracking: InvalidationTracking | undefined;
  private readonly reader: RedisSessionReader;
  private opened = false;

  constructor(options: RedisStoreOptions) {
    keepStringMethodsFast(); // ioredis, loaded with this store, would leave every string method call on V8's slow path
    const { client, url, prefix, commandTimeoutMs, nearCache } = resolveOptions(options);
    this.keys = new RedisKeys(prefix);
    this.ownsClient = client === undefined;
    this.client = defineScripts(client ?? createClient(url!));
    this.detector = new RedisFailureDetector(this.client, this.ownsClient, commandTimeoutMs, this.logger);
    this.run = this.detector.run;
    const heard: ChannelEvents = {
      removed: (removal) => this.listeners.notify(removal),
      userClosed: (userId) => this.epochs.forget(userId),
      resubscribed: () => this.epochs.clear(),
      lost: () => this.epochs.clear(),
    };
    this.channel = new RemovalChannel(this.client, this.keys.channel, this.detector, heard, this.logger);
    this.epochs = new UserEpochCache(this.keys, this.run, () => this.channel.subscribed, this.logger);
    this.removals = new RedisRemovals(this.keys, this.channel, this.listeners, this.logger);
    this.indexes = new RedisIndexes(this.keys, this.removals, this.logger);
    this.sweeper = new ExpirySweeper(this.keys, this.detector, this.removals, this.logger);
    this.userCloser = new RedisUserCloser(this.keys, this.removals, this.logger);
    const cached = nearCache && InvalidationTracking.start(this.client, nearCache, this.keys, this.detector, this.logger);
    this.near = cached?.near;
    this.tracking = cached?.tracking;
    // Removals here and on other servers: the copy goes at once, before Redis's invalidation arrives.
    if (cached !== undefined) this.listeners.add((removal) => cached.near.invalidate(removal.key));
    this.reader = new RedisSessionReader(this.keys, this.run, this.epochs, this.removals, this.near, this.logger);
  }

  /** `write` of this server to the session `key`: the near cache drops its copy around it. */
  private changing<T>(key: string, write: () => Promise<T>): Promise<T> {
    return this.near === undefined ? write() : this.near.changing(key, write);
  }

  async create(key: string, record: SessionRecord, limits: StoreLimits): Promise<boolean> {
    if (record.userId !== undefined && LONE_SURROGATE.test(record.userId)) {
      // Redis would store it as U+FFFD: the record would come back under another user id than its index's.
      throw new TypeError('RedisStore: a user id must be well-formed UTF-16');
    }
    const expiry = expiresAt(record);
    const session = this.keys.session(key);
    const created = await this.changing(key, () =>
      this.run((c) => c.nestjsConnectedCreate(session, redisTime(expiry + EXPIRY_GRACE_MS), ...encodeRecord(record))),
    );
    if (created !== 1) return false;
    try {
      const [indexed] = await Promise.all([
        this.indexes.add(key, record, limits, this.run),
        this.removals.schedule(key, expiry, record.absoluteExpiresAt, this.run),
      ]);
      if (!indexed) {
        // Its user was closed after this login read the epoch: the session is dead on arrival.
        await this.changing(key, () => this.run((c) => c.del(session)));
        this.listeners.notify({ key, reason: 'destroyed', record });
      }
    } catch (error) {
      // Not handed out: undo what can be undone; what stays (an index entry) is skipped on read and has a TTL.
      await this.changing(key, () => this.run((c) => c.del(session))).catch(() => undefined);
      throw error;
    }
    return true;
  }

  /**
   * The session's record from the near cache, with the checks of {@link get} (expiry, the user's cached epoch), or
   * undefined when it must be read from Redis: no I/O, no removal.
   */
  cached(key: string): SessionRecord | undefined {
    return this.reader.cached(key);
  }

  async get(key: string): Promise<SessionRecord | undefined> {
    return this.reader.cached(key) ?? this.reader.read(key);
  }

  async setField(key: string, field: string, value: string): Promise<boolean> {
    const sessionScoped = field.startsWith(FIELD_PREFIX.session) ? '1' : '0';
    const now = String(Date.now());
    return this.changing(
      key,
      async () =>
        (await this.run((c) => c.nestjsConnectedSetField(this.keys.session(key), DATA_FIELD + field, value, now, sessionScoped))) === 1,
    );
  }

  async deleteField(key: string, field: string): Promise<boolean> {
    const now = String(Date.now());
    return this.changing(
      key,
      async () => (await this.run((c) => c.nestjsConnectedDeleteField(this.keys.session(key), DATA_FIELD + field, now))) === 1,
    );
  }

  async touch(key: string, lastSeenAt: number, idleExpiresAt: number): Promise<boolean> {
    const now = String(Date.now());
    const reply = await this.changing(key, () =>
      this.run((c) =>
        c.nestjsConnectedTouch(this.keys.session(key), String(lastSeenAt), String(idleExpiresAt), now, String(EXPIRY_GRACE_MS)),
      ),
    );
    if (!Array.isArray(reply) || (reply[0] !== 1 && reply[0] !== 2)) return false;
    // The touch dropped this server's copy: read it again off the request path, so the next request finds it, once
    // Redis's invalidation of the touch is in (arriving during the read, it would keep the result out of the cache).
    this.tracking?.afterInvalidations(() => this.reader.read(key));
    // A later expiry leaves the schedule alone (the sweeper, finding the session not due, puts it back at its real
    // expiry: one round trip a touch); one moved earlier moves it (best effort: failing, the session is reported late).
    if (reply[0] === 2) {
      await this.removals
        .schedule(key, Number(reply[1]), Number(reply[2]), this.run)
        .catch((error: unknown) => this.logger.warn(`Rescheduling a touched session's expiry: ${describeError(error)}`));
    }
    return true;
  }

  async destroy(key: string, movedTo?: string): Promise<SessionRecord | undefined> {
    return this.changing(key, () => this.removals.take(key, this.run, movedTo));
  }

  async listUser(userId: string): Promise<Array<[string, SessionRecord]>> {
    const keys = await this.run((c) => c.zrange(this.keys.userSessions(userId), '0', '-1'));
    if (keys.length === 0) return [];
    const [epoch, replies] = await Promise.all([this.epochs.of(userId), Promise.all(keys.map((key) => this.reader.hash(key)))]);
    const now = Date.now();
    const live: Array<[string, SessionRecord]> = [];
    const stale: string[] = [];
    const expired: string[] = [];
    for (const [i, key] of keys.entries()) {
      const reply = replies[i];
      if (!Array.isArray(reply) || reply.length === 0) {
        stale.push(key);
        continue;
      }
      const record = this.removals.decode(reply);
      if (record === undefined || record.userId !== userId) continue;
      if (expiresAt(record) <= now) expired.push(key);
      else if (epoch !== undefined && record.epoch >= epoch) live.push([key, record]);
    }
    const cleanups: Array<Promise<unknown>> = expired.map((key) => this.removals.expire(key, now, this.run));
    // Entries whose session is gone (Redis dropped it past its grace): forget them.
    if (stale.length > 0) cleanups.push(this.run((c) => c.zrem(this.keys.userSessions(userId), ...stale)));
    await Promise.all(cleanups).catch((error: unknown) => this.logger.warn(`Cleaning a user's index: ${describeError(error)}`));
    return live.sort((a, b) => a[1].createdAt - b[1].createdAt);
  }

  trimUser(userId: string, max: number, candidates: readonly string[]): Promise<Array<[string, SessionRecord]>> {
    return this.indexes.trimUser(userId, max, candidates, this.run);
  }

  async closeUser(userId: string, keep?: string): Promise<Array<[string, SessionRecord]>> {
    let keys: string[];
    try {
      keys = await this.userCloser.bump(userId, keep, this.run);
    } finally {
      // Stamped with the next epoch, or given its epoch back when the bump failed.
      if (keep !== undefined) this.near?.invalidate(keep);
    }
    this.epochs.forget(userId);
    for (const key of keys) this.near?.invalidate(key);
    this.channel.publishUserClosed(userId);
    return this.userCloser.takeAll(keys, userId, this.run);
  }

  async epochOf(userId: string): Promise<number> {
    const epoch = parseEpoch(await this.run((c) => c.hget(this.keys.user(userId), 'epoch')));
    if (epoch === undefined) throw new Error('RedisStore: the stored epoch of a user is not a number');
    return epoch;
  }

  async getUserField(userId: string, field: string): Promise<string | undefined> {
    const value = await this.run((c) => c.hget(this.keys.user(userId), `f:${field}`));
    return typeof value === 'string' ? value : undefined;
  }

  async setUserField(userId: string, field: string, value: string | undefined): Promise<void> {
    if (value === undefined) {
      await this.run((c) => c.hdel(this.keys.user(userId), `f:${field}`));
    } else {
      await this.run((c) =>
        c.nestjsConnectedSetUserField(
          this.keys.user(userId),
          this.keys.userSessions(userId),
          `f:${field}`,
          value,
          redisTime(Date.now() + USER_FLOOR_MS),
        ),
      );
    }
  }

  subscribe(listener: (removal: StoreRemoval) => void): () => void {
    return this.listeners.add(listener);
  }

  /**
   * A call made for a request (whichever) missed the policy's `storeTimeout`: Redis is taken as hung. Every call fails
   * at once until a PING answers; a connection the store owns is dropped and reconnected.
   */
  callTimedOut(): void {
    this.detector.callTimedOut();
  }

  /**
   * Connects (the client it owns, or yours if it is lazy), subscribes to the removal channel, starts the sweeper.
   * Rejects when Redis cannot be reached within 10 s, leaving no connection of its own behind.
   */
  async open(): Promise<void> {
    if (this.opened) return;
    this.detector.start();
    this.channel.attach();
    this.tracking?.attach();
    try {
      // A hung server accepts the TCP connection and never completes the handshake: bound the whole start.
      const connected = connectClient(this.client, this.ownsClient)
        .then(() => this.channel.connect())
        .then(() => this.tracking?.connect());
      await this.detector.bound(connected, OPEN_TIMEOUT_MS);
    } catch (error) {
      this.channel.abandon();
      await this.tracking?.close(this.ownsClient);
      if (this.ownsClient) this.client.disconnect();
      throw new Error(`RedisStore: could not connect to Redis: ${describeError(error)}`);
    }
    this.opened = true;
    this.sweeper.start();
  }

  /**
   * Stops the sweeper, lets the removal messages in flight go out, unsubscribes, and quits the connections it
   * created (never a client you passed in). Bounded even when Redis is down or hung.
   */
  async close(): Promise<void> {
    this.opened = false;
    this.sweeper.stop();
    await this.channel.flush();
    this.detector.stop();
    await this.tracking?.close(this.ownsClient);
    await Promise.all([this.channel.close(), this.ownsClient ? this.detector.quit(this.client) : undefined]);
  }
}
