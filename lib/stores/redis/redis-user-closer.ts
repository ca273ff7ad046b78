import type { Logger } from '@nestjs/common';
import { describeError } from '../../util/describe-error.js';
import type { SessionRecord } from '../session-record.js';
import type { RunCommand } from './redis-failure-detector.js';
import type { RedisKeys } from './redis-keys.js';
import { parseEpoch, stringsIn } from './redis-record.js';
import type { RedisRemovals } from './redis-removals.js';
import { EXPIRY_GRACE_MS, redisTime, USER_FLOOR_MS } from './redis-ttl.js';

/**
 * `closeUser` of RedisStore in its two halves: the bump ({@link bump}: the user's epoch and index, one script on the
 * user's Cluster slot) and the removal of the sessions it names ({@link takeAll}: each hash, on its own slot, by one
 * script). The store tells the other servers of the new epoch in between.
 *
 * A session kept through the bump (`keep`) lives on another slot than the user's keys, so no one script can stamp it
 * with the new epoch while bumping: it is stamped first (CarryEpoch, from the epoch read just before), which a reader
 * never minds since a session ahead of its user's epoch is live, and the bump then keeps it only if the epoch is still
 * the one read (no racing close). A bump that fails gives the session its epoch back, as far as Redis answers.
 */
export class RedisUserCloser {
  constructor(
    private readonly keys: RedisKeys,
    private readonly removals: RedisRemovals,
    private readonly logger: Logger,
  ) {}

  /** Bumps the user's epoch and empties the index (but `keep`, when it can be kept); resolves the keys to take. */
  async bump(userId: string, keep: string | undefined, run: RunCommand): Promise<string[]> {
    const sessions = this.keys.userSessions(userId);
    const user = this.keys.user(userId);
    const floor = redisTime(Date.now() + USER_FLOOR_MS);
    const carried = keep === undefined ? undefined : await this.carry(userId, keep, run);
    if (keep === undefined || carried === undefined) {
      const reply = await run((c) => c.nestjsConnectedCloseUser(sessions, user, floor, '', '0', '0', '0'));
      return stringsIn(Array.isArray(reply) ? reply[1] : undefined);
    }
    const { epoch, createdAt, until } = carried;
    try {
      const reply = await run((c) => c.nestjsConnectedCloseUser(sessions, user, floor, keep, String(epoch), createdAt, until));
      return stringsIn(Array.isArray(reply) ? reply[1] : undefined);
    } catch (error) {
      // Ahead of its user's epoch, the session would outlive the next closeUser if its index entry were lost.
      await run((c) =>
        c.nestjsConnectedCarryEpoch(this.keys.session(keep), userId, String(epoch), String(epoch), String(Date.now())),
      ).catch((undo: unknown) => this.logger.warn(`Giving a kept session its epoch back: ${describeError(undo)}`));
      throw error;
    }
  }

  /** Takes the sessions a bump named, if still the user's; throws when one could not be taken (see closeUser). */
  async takeAll(keys: string[], userId: string, run: RunCommand): Promise<Array<[string, SessionRecord]>> {
    const results = await Promise.allSettled(
      keys.map(async (key): Promise<[string, SessionRecord] | undefined> => {
        const record = await this.removals.takeOfUser(key, userId, run);
        return record === undefined ? undefined : [key, record];
      }),
    );
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    // The epoch is bumped and the index empty, so what was not taken is dead all the same; but its record is not
    // returned, so the caller must hear that the close did not complete.
    if (failed !== undefined) throw failed.reason;
    return results.flatMap((result) => (result.status === 'fulfilled' && result.value !== undefined ? [result.value] : []));
  }

  /**
   * Stamps `keep` with the epoch to come, if it is a live session of the user; resolves the epoch it was read at and
   * what its index entry needs, or undefined when it cannot be kept.
   */
  private async carry(
    userId: string,
    keep: string,
    run: RunCommand,
  ): Promise<{ epoch: number; createdAt: string; until: string } | undefined> {
    const epoch = parseEpoch(await run((c) => c.hget(this.keys.user(userId), 'epoch')));
    if (epoch === undefined) throw new Error('RedisStore: the stored epoch of a user is not a number');
    const reply = await run((c) =>
      c.nestjsConnectedCarryEpoch(this.keys.session(keep), userId, String(epoch), String(epoch + 1), String(Date.now())),
    );
    if (!Array.isArray(reply) || reply[0] !== 1) return undefined;
    const [createdAt, absolute] = stringsIn(reply.slice(1));
    const absoluteAt = Number(absolute);
    if (createdAt === undefined || !Number.isFinite(absoluteAt)) return undefined;
    return { epoch, createdAt, until: redisTime(absoluteAt + EXPIRY_GRACE_MS) };
  }
}
