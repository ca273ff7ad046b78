import { Logger } from '@nestjs/common';
import { Redis, type Cluster, type RedisOptions } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { describeError } from '../../util/describe-error.js';
import { expiresAt, FIELD_PREFIX, LONE_SURROGATE, type SessionRecord } from '../session-record.js';
import { Deadlines } from '../../util/deadlines.js';
import type { SessionStore, StoreLimits, StoreRemoval, StoreRemovalReason } from '../session-store.js';
import { StoreListeners } from '../store-listeners.js';
import { RedisKeys } from './redis-keys.js';
import { DATA_FIELD, decodeRecordHash, encodeRecord, parseEpoch } from './redis-record.js';
import { defineScripts, type ScriptedClient } from './redis-scripts.js';
import { EXPIRY_GRACE_MS, USER_FLOOR_MS } from './redis-ttl.js';

/** Options of {@link RedisStore}: give `client` or `url`. */
export interface RedisStoreOptions {
  /**
   * A client of yours (`new Redis(...)` or `new Cluster([...])` from ioredis). The store defines its scripts on it
   * and duplicates it once for pub/sub; it closes that duplicate on shutdown, never your client. Give it bounded
   * behaviour for outages (`enableOfflineQueue: false`, `commandTimeout`): the store bounds its own calls anyway.
   */
  client?: Redis | Cluster;
  /** A Redis URL (`redis://`, `rediss://`): the store creates its client, connects it on start-up, quits it on shutdown. */
  url?: string;
  /** Prepended to every key and to the pub/sub channel, so that several applications can share one Redis. Default `nc:`. */
  prefix?: string;
  /**
   * How long one Redis command may take. Past it the call rejects, and the store then rejects every call at once
   * until a PING answers again, so that a hung server never collects a queue of waiting requests. Default 1000.
   */
  commandTimeoutMs?: number;
}

/** How long a cached user epoch is trusted at most, even without news from pub/sub. */
const EPOCH_CACHE_MS = 30_000;
const EPOCH_CACHE_SIZE = 10_000;
const SWEEP_INTERVAL_MS = 1_000;
/** Keys claimed from one expiry shard per round, and rounds per sweep: bounds one sweep's work. */
const SWEEP_BATCH = 100;
const SWEEP_ROUNDS = 10;
const OPEN_TIMEOUT_MS = 10_000;
const PROBE_FIRST_MS = 100;
const PROBE_MAX_MS = 2_000;

interface RemovalMessage {
  origin: string;
  key: string;
  reason: StoreRemovalReason;
}

interface EpochMessage {
  origin: string;
  user: string;
}


const REASONS: ReadonlySet<string> = new Set<StoreRemovalReason>(['destroyed', 'expired', 'evicted']);

type AnyClient = Redis | Cluster;

/** Keeps reconnecting, never giving up, at most a second apart. */
const retryStrategy = (attempts: number) => Math.min(attempts * 100, 1000);

/** A time for PEXPIREAT / a score, as an integer string. */
const at = (ms: number) => String(Math.ceil(ms));

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/** An error Redis answered with (WRONGTYPE, a script error): the server is there, so this is not an outage. */
function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError';
}

/** Redis's answer to a command on a key of another type (someone else wrote it). */
function isWrongType(error: unknown): boolean {
  return isReplyError(error) && (error as Error).message.startsWith('WRONGTYPE');
}

/**
 * A {@link SessionStore} on Redis (standalone or Cluster, Redis 7+), for many servers sharing sessions. Import it
 * from `nestjs-connected/redis`; `ioredis` must be installed.
 *
 * One hash per session (a field per persisted value, so that two servers writing different keys both win), a
 * per-user index and epoch, Lua scripts for every conditional write, a TTL on every key, and pub/sub so that every
 * server hears of closed sessions (it closes their sockets and drops their in-memory values). Expiry is a schedule
 * in sorted sets that each server's sweeper claims from once a second, so that each expired session is reported, with
 * its record, by exactly one server, at a cost in proportion to what expires.
 *
 * `get` costs one round trip: it checks the user's epoch against a per-server cache that `closeUser` invalidates
 * through pub/sub. The first line against a session opened with an epoch older than its user's is `create`, which
 * refuses it atomically on the user's slot; the cache is the second. Its window: between a `closeUser` on another
 * server and that server's message arriving here, a cached epoch may be one behind. The cache is not used while the
 * subscription is down, is cleared whenever it comes back (messages may have been missed), trusts an entry for 30 s
 * at most and never past the life of the user's hash.
 *
 * Requires `open()` before use (the library calls it at start-up) and Redis 7 (PEXPIRETIME).
 */
export class RedisStore implements SessionStore {
  private readonly logger = new Logger('RedisStore');
  private readonly client: ScriptedClient & AnyClient;
  private readonly ownsClient: boolean;
  private readonly keys: RedisKeys;
  /** Bounds every command, also on a client of yours that has no `commandTimeout`. */
  private readonly deadlines: Deadlines;
  /** Tells this store's own messages apart from other servers'. */
  private readonly origin = randomBytes(12).toString('base64url');
  private readonly listeners = new StoreListeners(this.logger);
  /** userId -> its epoch and until when to trust it; insertion-ordered, the oldest dropped past the size. */
  private readonly epochs = new Map<string, { epoch: number; until: number }>();
  /** Bumped by every epoch invalidation: an epoch read that started before one is not cached. */
  private epochGeneration = 0;
  private subscriber: AnyClient | undefined;
  /** True while the channel subscription is known to be live: only then is the epoch cache trusted. */
  private subscribed = false;
  private opened = false;
  private closing = false;
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping = false;
  /** Set by a command that timed out or could not be sent; cleared by the first PING that answers. */
  private failing = false;
  /** Connections whose outage was logged, so that ioredis's error per reconnection attempt is not. */
  private readonly reported = new Set<'client' | 'subscriber'>();
  private readonly publishing = new Set<Promise<unknown>>();

  constructor(options: RedisStoreOptions) {
    const { client, url } = options ?? {};
    if ((client === undefined) === (url === undefined)) {
      throw new Error('RedisStore: give exactly one of `client` and `url`');
    }
    const prefix = options.prefix ?? 'nc:';
    if (typeof prefix !== 'string') throw new Error('RedisStore: prefix must be a string');
    const timeoutMs = options.commandTimeoutMs ?? 1000;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new Error('RedisStore: commandTimeoutMs must be a positive number');
    }
    this.deadlines = new Deadlines(timeoutMs, `RedisStore: no answer from Redis within ${timeoutMs} ms`);
    this.keys = new RedisKeys(prefix);
    this.ownsClient = client === undefined;
    const own: RedisOptions = {
      lazyConnect: true,
      // Never queue while disconnected: a call fails at once and the library answers 503.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy,
      // No ioredis commandTimeout: it arms a timer per command, and `deadlines` already bounds every command.
    };
    this.client = defineScripts(client ?? new Redis(url!, own));
    if (this.ownsClient) {
      this.client.on('error', (error: unknown) => this.connectionError('client', error));
      this.client.on('ready', () => this.reported.delete('client'));
    }
  }

  async create(key: string, record: SessionRecord, limits: StoreLimits): Promise<boolean> {
    if (record.userId !== undefined && LONE_SURROGATE.test(record.userId)) {
      // Redis would store it as U+FFFD: the record would come back under another user id than its index's.
      throw new TypeError('RedisStore: a user id must be well-formed UTF-16');
    }
    const expiry = expiresAt(record);
    const session = this.keys.session(key);
    const created = await this.run((c) => c.nestjsConnectedCreate(session, at(expiry + EXPIRY_GRACE_MS), ...encodeRecord(record)));
    if (created !== 1) return false;
    try {
      const keepUntil = at(record.absoluteExpiresAt + EXPIRY_GRACE_MS);
      const schedule = this.schedule(key, expiry);
      if (record.userId !== undefined) {
        const { userId } = record;
        const [indexed] = await Promise.all([
          this.run((c) =>
            c.nestjsConnectedIndexUser(this.keys.userSessions(userId), this.keys.user(userId), key, String(record.createdAt), String(record.epoch), keepUntil),
          ),
          schedule,
        ]);
        if (indexed !== 1) {
          // Its user was closed after this login read the epoch: the session is dead on arrival.
          await this.run((c) => c.del(session));
          this.listeners.notify({ key, reason: 'destroyed', record });
        }
      } else {
        const max = Number.isFinite(limits.maxAnonymous) ? String(Math.max(0, Math.floor(limits.maxAnonymous))) : '-1';
        const [evicted] = await Promise.all([
          this.run((c) => c.nestjsConnectedIndexAnonymous(this.keys.anonymous, key, max, keepUntil)),
          schedule,
        ]);
        await Promise.all(evicted.map((victim) => this.evict(victim)));
      }
    } catch (error) {
      // Not handed out: undo what can be undone; what stays (an index entry) is skipped on read and has a TTL.
      await this.run((c) => c.del(session)).catch(() => undefined);
      throw error;
    }
    return true;
  }

  async get(key: string): Promise<SessionRecord | undefined> {
    // A plain HGETALL, not a script: the read of every request; a key of another type answers WRONGTYPE.
    let reply: unknown;
    try {
      reply = await this.run((c) => c.call('HGETALL', this.keys.session(key)));
    } catch (error) {
      if (!isWrongType(error)) throw error;
      this.logger.warn('Ignored a session key in Redis that is not a hash (no session)');
      return undefined;
    }
    if (!Array.isArray(reply) || reply.length === 0) return undefined;
    const record = this.decode(reply);
    if (record === undefined) return undefined;
    const now = Date.now();
    if (expiresAt(record) <= now) {
      await this.expire(key, now).catch((error: unknown) => this.logger.warn(`Removing an expired session: ${describeError(error)}`));
      return undefined;
    }
    if (record.userId !== undefined) {
      const epoch = this.cachedEpoch(record.userId, now) ?? (await this.fetchEpoch(record.userId, now));
      if (epoch === undefined) return undefined;
      if (record.epoch < epoch) {
        await this.dropStale(key, epoch).catch((error: unknown) => this.logger.warn(`Removing a closed session: ${describeError(error)}`));
        return undefined;
      }
    }
    return record;
  }

  async setField(key: string, field: string, value: string): Promise<boolean> {
    const sessionScoped = field.startsWith(FIELD_PREFIX.session) ? '1' : '0';
    const now = String(Date.now());
    return (await this.run((c) => c.nestjsConnectedSetField(this.keys.session(key), DATA_FIELD + field, value, now, sessionScoped))) === 1;
  }

  async deleteField(key: string, field: string): Promise<boolean> {
    const now = String(Date.now());
    return (await this.run((c) => c.nestjsConnectedDeleteField(this.keys.session(key), DATA_FIELD + field, now))) === 1;
  }

  async touch(key: string, lastSeenAt: number, idleExpiresAt: number): Promise<boolean> {
    const now = String(Date.now());
    const reply = await this.run((c) =>
      c.nestjsConnectedTouch(this.keys.session(key), String(lastSeenAt), String(idleExpiresAt), now, String(EXPIRY_GRACE_MS)),
    );
    if (!Array.isArray(reply) || reply[0] !== 1) return false;
    const absolute = Number(reply[1]);
    // Best effort: should it fail, the schedule keeps the earlier time, and the sweeper, finding the session not
    // due then, puts it back at its real expiry.
    await this.schedule(key, Math.min(idleExpiresAt, Number.isFinite(absolute) ? absolute : idleExpiresAt)).catch((error: unknown) =>
      this.logger.warn(`Rescheduling a touched session's expiry: ${describeError(error)}`),
    );
    return true;
  }

  async destroy(key: string): Promise<SessionRecord | undefined> {
    const reply = await this.run((c) => c.nestjsConnectedTake(this.keys.session(key)));
    if (!Array.isArray(reply) || reply.length === 0) return undefined;
    const record = this.decode(reply);
    await this.removed(key, record, 'destroyed');
    return record;
  }

  async listUser(userId: string): Promise<Array<[string, SessionRecord]>> {
    const keys = await this.run((c) => c.zrange(this.keys.userSessions(userId), '0', '-1'));
    if (keys.length === 0) return [];
    const [epoch, replies] = await Promise.all([
      this.userEpoch(userId),
      Promise.all(keys.map((key) => this.run((c) => c.nestjsConnectedRead(this.keys.session(key))))),
    ]);
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
      const record = this.decode(reply);
      if (record === undefined || record.userId !== userId) continue;
      if (expiresAt(record) <= now) expired.push(key);
      else if (epoch !== undefined && record.epoch >= epoch) live.push([key, record]);
    }
    const cleanups: Array<Promise<unknown>> = expired.map((key) => this.expire(key, now));
    // Entries whose session is gone (Redis dropped it past its grace): forget them.
    if (stale.length > 0) cleanups.push(this.run((c) => c.zrem(this.keys.userSessions(userId), ...stale)));
    await Promise.all(cleanups).catch((error: unknown) => this.logger.warn(`Cleaning a user's index: ${describeError(error)}`));
    return live.sort((a, b) => a[1].createdAt - b[1].createdAt);
  }

  async closeUser(userId: string): Promise<Array<[string, SessionRecord]>> {
    const reply = await this.run((c) =>
      c.nestjsConnectedCloseUser(this.keys.userSessions(userId), this.keys.user(userId), at(Date.now() + USER_FLOOR_MS)),
    );
    const keys = Array.isArray(reply) && Array.isArray(reply[1]) ? (reply[1] as unknown[]).filter((key): key is string => typeof key === 'string') : [];
    this.forgetEpoch(userId);
    this.publish({ origin: this.origin, user: userId } satisfies EpochMessage);
    const results = await Promise.allSettled(
      keys.map(async (key): Promise<[string, SessionRecord] | undefined> => {
        const taken = await this.run((c) => c.nestjsConnectedTakeOfUser(this.keys.session(key), userId));
        if (!Array.isArray(taken) || taken.length === 0) return undefined;
        const record = this.decode(taken);
        await this.removed(key, record, 'destroyed');
        return record === undefined ? undefined : [key, record];
      }),
    );
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    // The epoch is bumped and the index empty, so what was not taken is dead all the same; but its record is not
    // returned, so the caller must hear that the close did not complete.
    if (failed !== undefined) throw failed.reason;
    return results.flatMap((result) => (result.status === 'fulfilled' && result.value !== undefined ? [result.value] : []));
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
        c.nestjsConnectedSetUserField(this.keys.user(userId), this.keys.userSessions(userId), `f:${field}`, value, at(Date.now() + USER_FLOOR_MS)),
      );
    }
  }

  subscribe(listener: (removal: StoreRemoval) => void): () => void {
    return this.listeners.add(listener);
  }

  /**
   * Connects (the client it owns, or yours if it is lazy), subscribes to the removal channel, starts the sweeper.
   * Rejects when Redis cannot be reached within 10 s, leaving no connection of its own behind.
   */
  async open(): Promise<void> {
    if (this.opened) return;
    this.closing = false;
    const subscriber = this.duplicate();
    this.subscriber = subscriber;
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.keys.channel) this.onMessage(message);
    });
    subscriber.on('ready', () => {
      this.reported.delete('subscriber');
      this.subscribeChannel(subscriber).catch((error: unknown) => this.connectionError('subscriber', error));
    });
    for (const event of ['close', 'end', 'reconnecting']) {
      subscriber.on(event, () => {
        if (subscriber === this.subscriber) this.subscribed = false;
      });
    }
    subscriber.on('error', (error: unknown) => this.connectionError('subscriber', error));
    const connect = async () => {
      const idle = !['connecting', 'connect', 'ready'].includes(this.client.status);
      // Yours is connected only if it is lazy and never was; the one it owns whenever it is not (again, after close()).
      if (this.client.status === 'wait' || (this.ownsClient && idle)) await this.client.connect();
      if (subscriber.status === 'wait') await subscriber.connect();
      if (!this.subscribed) await this.subscribeChannel(subscriber);
    };
    try {
      // A hung server accepts the TCP connection and never completes the handshake: bound the whole start.
      await this.bounded(connect(), OPEN_TIMEOUT_MS);
    } catch (error) {
      this.subscriber = undefined;
      subscriber.disconnect();
      if (this.ownsClient) this.client.disconnect();
      throw new Error(`RedisStore: could not connect to Redis: ${describeError(error)}`);
    }
    this.opened = true;
    this.sweeper = setInterval(() => void this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  /**
   * Stops the sweeper, lets the removal messages in flight go out, unsubscribes, and quits the connections it
   * created (never a client you passed in). Bounded even when Redis is down or hung.
   */
  async close(): Promise<void> {
    this.opened = false;
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
    await Promise.allSettled([...this.publishing]);
    this.closing = true;
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    this.subscribed = false;
    await Promise.all([
      subscriber === undefined
        ? undefined
        : this.bounded(subscriber.unsubscribe(this.keys.channel))
            .catch(() => undefined)
            .then(() => this.quit(subscriber)),
      this.ownsClient ? this.quit(this.client) : undefined,
    ]);
  }

  /** Runs one Redis call with the failure policy: fail fast while failing, a bound on the wait, failing on outage. */
  private run<T>(command: (client: ScriptedClient & AnyClient) => Promise<T>): Promise<T> {
    if (this.failing) {
      return Promise.reject(new Error('RedisStore: Redis is not answering (failing fast until a PING answers)'));
    }
    let pending: Promise<T>;
    try {
      pending = command(this.client);
    } catch (error) {
      pending = Promise.reject(error);
    }
    return this.deadlines.bound(pending, (error) => {
      if (!isReplyError(error)) this.startFailing(error);
      return error;
    });
  }

  /** `promise`, or a rejection once the command timeout passed (a client of yours may have no timeout of its own). */
  private bounded<T>(promise: Promise<T>, ms = this.deadlines.timeoutMs): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`RedisStore: no answer from Redis within ${ms} ms`)), ms);
    });
    return Promise.race([promise, late]).finally(() => clearTimeout(timer));
  }

  private startFailing(error: unknown): void {
    if (this.failing || this.closing) return;
    this.failing = true;
    this.logger.error(`Redis is not answering (${describeError(error)}); store calls fail at once until a PING answers`);
    if (this.ownsClient && /no answer|timed out/i.test(describeError(error))) {
      // A hung server keeps the connection open: drop it, with whatever waits on it, and reconnect. Until the new
      // connection's handshake completes, nothing is written to it, so nothing piles up while the server hangs.
      (this.client as Redis).disconnect(true);
    }
    void this.probe();
  }

  /**
   * Lets calls through again once a PING answers. One PING at a time: while it has no answer (a client of yours
   * without a command timeout keeps it queued until Redis is back) no other is sent; checks back off up to 2 s.
   */
  private async probe(): Promise<void> {
    let wait = PROBE_FIRST_MS;
    let ping: Promise<boolean> | undefined;
    while (this.failing && !this.closing) {
      await sleep(wait);
      if (this.closing) break;
      ping ??= this.client.ping().then(
        () => true,
        () => false,
      );
      const answered = await Promise.race([ping, sleep(this.deadlines.timeoutMs).then(() => undefined)]);
      if (answered === true) {
        this.logger.log('Redis answers again');
        break;
      }
      if (answered === false) ping = undefined;
      wait = Math.min(wait * 2, PROBE_MAX_MS);
    }
    this.failing = false;
  }

  private connectionError(which: 'client' | 'subscriber', error: unknown): void {
    // ioredis reports every failed reconnection attempt: one line per connection and outage is enough.
    if (this.closing || this.reported.has(which)) return;
    this.reported.add(which);
    this.logger.warn(`Redis ${which} connection: ${describeError(error)} (reconnecting; not logged again until it is back)`);
  }

  /** The pub/sub connection: a duplicate of the client, always reconnecting, which the store closes itself. */
  private duplicate(): AnyClient {
    const options: Partial<RedisOptions> = { lazyConnect: true, enableOfflineQueue: false, autoResubscribe: false, retryStrategy };
    if (this.client.isCluster) {
      const cluster = this.client as Cluster;
      return cluster.duplicate([], { lazyConnect: true, clusterRetryStrategy: retryStrategy });
    }
    return (this.client as Redis).duplicate(options);
  }

  private async subscribeChannel(subscriber: AnyClient): Promise<void> {
    await this.bounded(subscriber.subscribe(this.keys.channel));
    if (subscriber !== this.subscriber) return;
    // Messages may have been missed while unsubscribed: forget every cached epoch.
    this.epochs.clear();
    this.epochGeneration++;
    this.subscribed = true;
  }

  /** QUIT, bounded; a client that cannot say goodbye (Redis down or hung) is just disconnected. */
  private async quit(client: AnyClient): Promise<void> {
    if (client.status === 'ready' && !this.failing) await this.bounded(client.quit()).catch(() => undefined);
    if (client.status === 'end' || client.status === 'wait') return;
    // With a socket open, wait until it is really closed, so that an open() right after can connect again.
    // Between two reconnection attempts there is none: disconnect() only cancels the next attempt.
    const ended = ['connecting', 'connect', 'ready'].includes(client.status)
      ? new Promise<void>((resolve) => client.once('end', () => resolve()))
      : undefined;
    client.disconnect();
    if (ended !== undefined) await this.bounded(ended).catch(() => undefined);
  }

  private onMessage(text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (message === null || typeof message !== 'object') return;
    const { origin, key, reason, user } = message as Partial<Record<string, unknown>>;
    if (typeof origin !== 'string' || origin === this.origin) return;
    if (typeof user === 'string') this.forgetEpoch(user);
    if (typeof key === 'string' && typeof reason === 'string' && REASONS.has(reason)) {
      this.listeners.notify({ key, reason: reason as StoreRemovalReason, record: undefined });
    }
  }

  /** Not awaited by the operation it reports (the write has happened); close() waits for what is in flight. */
  private publish(message: RemovalMessage | EpochMessage): void {
    const sent = this.run((c) => c.publish(this.keys.channel, JSON.stringify(message))).catch((error: unknown) =>
      this.logger.warn(`Could not tell the other servers of a removal: ${describeError(error)}`),
    );
    this.publishing.add(sent);
    void sent.finally(() => this.publishing.delete(sent));
  }

  /** A record read from Redis, or undefined (logged, without the key) when it is not one. */
  private decode(reply: unknown[]): SessionRecord | undefined {
    const record = decodeRecordHash(reply);
    if (record === undefined) this.logger.warn('Ignored a session record in Redis that is not valid (treated as no session)');
    return record;
  }

  /** After a session hash was taken: its index entries go, this server's listeners and the others are told. */
  private async removed(key: string, record: SessionRecord | undefined, reason: StoreRemovalReason): Promise<void> {
    const userId = record?.userId;
    const index = userId !== undefined ? this.keys.userSessions(userId) : this.keys.anonymous;
    // Stale entries are skipped by every reader, so a failure here is logged, not thrown.
    await Promise.all([
      this.run((c) => c.zrem(index, key)),
      reason === 'expired' ? undefined : this.run((c) => c.zrem(this.keys.expiryShardOf(key), key)),
    ]).catch((error: unknown) => this.logger.warn(`Removing a session's index entries: ${describeError(error)}`));
    this.listeners.notify({ key, reason, record });
    this.publish({ origin: this.origin, key, reason } satisfies RemovalMessage);
  }

  private schedule(key: string, expiry: number): Promise<unknown> {
    return this.run((c) => c.nestjsConnectedSchedule(this.keys.expiryShardOf(key), key, String(expiry), at(expiry + EXPIRY_GRACE_MS)));
  }

  /** Takes an expired session if it is still there and due; only the caller that took it reports it. */
  private async expire(key: string, now: number): Promise<void> {
    const reply = await this.run((c) => c.nestjsConnectedTakeDue(this.keys.session(key), String(now)));
    if (!Array.isArray(reply)) return;
    if (reply[0] === 1) {
      // Touched since it was scheduled (or read): back on the schedule at its real expiry.
      await this.schedule(key, Number(reply[1]));
    } else if (reply[0] === 2 && Array.isArray(reply[1])) {
      await this.removed(key, this.decode(reply[1]), 'expired');
    }
  }

  private async evict(key: string): Promise<void> {
    try {
      const reply = await this.run((c) => c.nestjsConnectedTake(this.keys.session(key)));
      if (!Array.isArray(reply) || reply.length === 0) return;
      await this.removed(key, this.decode(reply), 'evicted');
    } catch (error) {
      this.logger.warn(`Evicting an anonymous session: ${describeError(error)}`);
    }
  }

  /** Removes a session whose epoch is below its user's (it was opened concurrently with a closeUser). */
  private async dropStale(key: string, epoch: number): Promise<void> {
    const reply = await this.run((c) => c.nestjsConnectedTakeIfEpochBelow(this.keys.session(key), String(epoch)));
    if (!Array.isArray(reply) || reply.length === 0) return;
    await this.removed(key, this.decode(reply), 'destroyed');
  }

  /** The user's epoch from the cache, while the subscription is live and the entry fresh (no await on a hit). */
  private cachedEpoch(userId: string, now: number): number | undefined {
    const cached = this.subscribed ? this.epochs.get(userId) : undefined;
    return cached !== undefined && cached.until > now ? cached.epoch : undefined;
  }

  /** The user's epoch, from the cache or from Redis; undefined (logged) when it is corrupt. */
  private async userEpoch(userId: string): Promise<number | undefined> {
    const now = Date.now();
    return this.cachedEpoch(userId, now) ?? this.fetchEpoch(userId, now);
  }

  /** The user's epoch from Redis, cached while the subscription is live; undefined (logged) when it is corrupt. */
  private async fetchEpoch(userId: string, now: number): Promise<number | undefined> {
    const generation = this.epochGeneration;
    const reply = await this.run((c) => c.nestjsConnectedEpoch(this.keys.user(userId)));
    const epoch = parseEpoch(Array.isArray(reply) ? reply[0] : undefined);
    if (epoch === undefined) {
      this.logger.warn('Ignored a user epoch in Redis that is not a number (the user’s sessions are refused)');
      return undefined;
    }
    const ttl = Array.isArray(reply) && typeof reply[1] === 'number' && reply[1] > 0 ? reply[1] : EPOCH_CACHE_MS;
    // The epoch resets to 0 when the user's hash expires: trust it no longer than the hash lives.
    if (this.subscribed && generation === this.epochGeneration) {
      this.epochs.delete(userId);
      this.epochs.set(userId, { epoch, until: now + Math.min(ttl, EPOCH_CACHE_MS) });
      if (this.epochs.size > EPOCH_CACHE_SIZE) this.epochs.delete(this.epochs.keys().next().value as string);
    }
    return epoch;
  }

  private forgetEpoch(userId: string): void {
    this.epochs.delete(userId);
    this.epochGeneration++;
  }

  /** Once a second: claims what is due from every expiry shard and reports it. */
  private async sweep(): Promise<void> {
    if (this.sweeping || this.failing || !this.opened) return;
    this.sweeping = true;
    try {
      const now = Date.now();
      await Promise.all(Array.from({ length: RedisKeys.EXPIRY_SHARDS }, (_, shard) => this.sweepShard(shard, now)));
    } catch (error) {
      if (!this.failing) this.logger.warn(`Expiry sweep: ${describeError(error)}`);
    } finally {
      this.sweeping = false;
    }
  }

  private async sweepShard(shard: number, now: number): Promise<void> {
    const limit = String(SWEEP_BATCH);
    for (let round = 0; round < SWEEP_ROUNDS && this.opened; round++) {
      const due = await this.run((c) => c.nestjsConnectedClaimDue(this.keys.expiryShard(shard), String(now), limit));
      await Promise.all(
        due.map((key) =>
          this.expire(key, now).catch((error: unknown) => {
            // Claimed but not taken: Redis drops the hash at the end of its grace, unreported.
            this.logger.warn(`Expiring a session: ${describeError(error)}`);
          }),
        ),
      );
      if (due.length < SWEEP_BATCH) return;
    }
  }
}
