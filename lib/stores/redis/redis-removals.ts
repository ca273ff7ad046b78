import type { Logger } from '@nestjs/common';
import { describeError } from '../../util/describe-error.js';
import type { SessionRecord } from '../session-record.js';
import type { StoreRemovalReason } from '../session-store.js';
import type { StoreListeners } from '../store-listeners.js';
import type { RemovalChannel } from './redis-channel.js';
import type { RunCommand } from './redis-failure-detector.js';
import type { RedisKeys } from './redis-keys.js';
import { decodeRecordHash } from './redis-record.js';
import { EXPIRY_GRACE_MS, redisTime } from './redis-ttl.js';

/**
 * How sessions leave Redis, and their place on the expiry schedule that makes them leave on time. A session hash is
 * taken by a script, so that exactly one caller gets its record; that caller drops its index entries and tells this
 * server's listeners (with the record) and the other servers (without).
 *
 * Every step takes the `run` of its caller: a request's calls are timed by the caller, the sweeper's are background
 * work.
 */
export class RedisRemovals {
  constructor(
    private readonly keys: RedisKeys,
    private readonly channel: RemovalChannel,
    private readonly listeners: StoreListeners,
    private readonly logger: Logger,
  ) {}

  /** A record read from Redis, or undefined (logged, without the key) when it is not one. */
  decode(reply: unknown[]): SessionRecord | undefined {
    const record = decodeRecordHash(reply);
    if (record === undefined) this.logger.warn('Ignored a session record in Redis that is not valid (treated as no session)');
    return record;
  }

  /**
   * Puts the session on the expiry schedule at `expiry`, unless its entry there is earlier already (the sweeper then
   * finds it not due and puts it back at its real expiry). The shard lives as long as the session can.
   */
  schedule(key: string, expiry: number, absoluteExpiresAt: number, run: RunCommand): Promise<unknown> {
    const keepUntil = redisTime(absoluteExpiresAt + EXPIRY_GRACE_MS);
    return run((c) => c.nestjsConnectedSchedule(this.keys.expiryShardOf(key), key, String(expiry), keepUntil));
  }

  /** After a session hash was taken: its index entries go, this server's listeners and the others are told. */
  async removed(
    key: string,
    record: SessionRecord | undefined,
    reason: StoreRemovalReason,
    run: RunCommand,
    movedTo?: string,
  ): Promise<void> {
    const userId = record?.userId;
    const index = userId !== undefined ? this.keys.userSessions(userId) : this.keys.anonymous;
    // Stale entries are skipped by every reader, so a failure here is logged, not thrown. (Without its record, an
    // anonymous session's address is unknown: its entry there stays until the bound pops it or the set expires.)
    await Promise.all([
      run((c) => c.zrem(index, key)),
      record !== undefined && userId === undefined ? run((c) => c.zrem(this.keys.anonymousOf(record.ip), key)) : undefined,
      reason === 'expired' ? undefined : run((c) => c.zrem(this.keys.expiryShardOf(key), key)),
    ]).catch((error: unknown) => this.logger.warn(`Removing a session's index entries: ${describeError(error)}`));
    this.listeners.notify(movedTo === undefined ? { key, reason, record } : { key, reason, record, movedTo });
    this.channel.publishRemoval(key, reason, movedTo);
  }

  /** Takes a session (`destroy`, which `movedTo` names the session's new key); resolves its record, if it was there. */
  async take(key: string, run: RunCommand, movedTo?: string): Promise<SessionRecord | undefined> {
    return this.report(key, await run((c) => c.nestjsConnectedTake(this.keys.session(key))), 'destroyed', run, movedTo);
  }

  /** Takes a session of a user being closed, if it is still that user's. */
  async takeOfUser(key: string, userId: string, run: RunCommand): Promise<SessionRecord | undefined> {
    return this.report(key, await run((c) => c.nestjsConnectedTakeOfUser(this.keys.session(key), userId)), 'destroyed', run);
  }

  /** Takes an expired session if it is still there and due; only the caller that took it reports it. */
  async expire(key: string, now: number, run: RunCommand): Promise<void> {
    const reply = await run((c) => c.nestjsConnectedTakeDue(this.keys.session(key), String(now)));
    if (!Array.isArray(reply)) return;
    if (reply[0] === 1) {
      // Touched since it was scheduled (or read): back on the schedule at its real expiry.
      await this.schedule(key, Number(reply[1]), Number(reply[2]), run);
    } else if (reply[0] === 2) {
      await this.report(key, reply[1], 'expired', run);
    }
  }

  /** Takes an anonymous session the cap pushed out; a failure is logged, the creation that caused it goes on. */
  async evict(key: string, run: RunCommand): Promise<void> {
    try {
      await this.report(key, await run((c) => c.nestjsConnectedTake(this.keys.session(key))), 'evicted', run);
    } catch (error) {
      this.logger.warn(`Evicting an anonymous session: ${describeError(error)}`);
    }
  }

  /** Removes a session whose epoch is below its user's (it was opened concurrently with a closeUser). */
  async dropStale(key: string, epoch: number, run: RunCommand): Promise<void> {
    await this.report(key, await run((c) => c.nestjsConnectedTakeIfEpochBelow(this.keys.session(key), String(epoch))), 'destroyed', run);
  }

  /** After a take: reports the session when the reply holds its hash (empty: someone else took it first). */
  private async report(
    key: string,
    taken: unknown,
    reason: StoreRemovalReason,
    run: RunCommand,
    movedTo?: string,
  ): Promise<SessionRecord | undefined> {
    if (!Array.isArray(taken) || taken.length === 0) return undefined;
    const record = this.decode(taken);
    await this.removed(key, record, reason, run, movedTo);
    return record;
  }
}
