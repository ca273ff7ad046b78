import type { Logger } from '@nestjs/common';
import { describeError } from '../../util/describe-error.js';
import type { SessionRecord } from '../session-record.js';
import type { StoreLimits } from '../session-store.js';
import type { RunCommand } from './redis-failure-detector.js';
import type { RedisKeys } from './redis-keys.js';
import { stringsIn } from './redis-record.js';
import type { RedisRemovals } from './redis-removals.js';
import { EXPIRY_GRACE_MS, redisTime } from './redis-ttl.js';

/** A bound as the scripts take it: a whole number, or -1 for none. */
function bound(max: number | undefined): string {
  return max === undefined || !Number.isFinite(max) ? '-1' : String(Math.max(0, Math.floor(max)));
}

/**
 * The indexes of RedisStore that a new session enters (its user's, or the anonymous ones) and the bounds kept on
 * them: the anonymous sessions' (`StoreLimits`, applied as one is indexed) and a user's (`trimUser`). A script
 * decides, in one step on one Cluster slot, which sessions go; their hashes, on other slots, are taken afterwards,
 * each by one script, and reported like any removal ({@link RedisRemovals}).
 */
export class RedisIndexes {
  constructor(
    private readonly keys: RedisKeys,
    private readonly removals: RedisRemovals,
    private readonly logger: Logger,
  ) {}

  /**
   * Enters a session just created in its index: false when its user was closed after the login read the epoch (the
   * session is then dead on arrival). An anonymous session goes in under its address too, and pushes out what the
   * bounds of `limits` no longer hold.
   */
  async add(key: string, record: SessionRecord, limits: StoreLimits, run: RunCommand): Promise<boolean> {
    const keepUntil = redisTime(record.absoluteExpiresAt + EXPIRY_GRACE_MS);
    const { userId } = record;
    if (userId !== undefined) {
      const { createdAt, epoch } = record;
      const [sessions, user] = [this.keys.userSessions(userId), this.keys.user(userId)];
      return (await run((c) => c.nestjsConnectedIndexUser(sessions, user, key, String(createdAt), String(epoch), keepUntil))) === 1;
    }
    const evicted = await run((c) =>
      c.nestjsConnectedIndexAnonymous(
        this.keys.anonymous,
        this.keys.anonymousOf(record.ip),
        key,
        bound(limits.maxAnonymous),
        keepUntil,
        bound(limits.maxPerAddress),
      ),
    );
    await Promise.all(evicted.map((victim) => this.removals.evict(victim, run)));
    return true;
  }

  /** `SessionStore.trimUser`: the script takes the sessions out of the user's index, then their hashes go. */
  async trimUser(userId: string, max: number, candidates: readonly string[], run: RunCommand): Promise<Array<[string, SessionRecord]>> {
    if (candidates.length === 0) return [];
    const index = this.keys.userSessions(userId);
    const reply = stringsIn(await run((c) => c.nestjsConnectedTrimUser(index, bound(max), ...candidates)));
    const claimed: Array<[key: string, score: string]> = [];
    for (let i = 0; i + 1 < reply.length; i += 2) claimed.push([reply[i], reply[i + 1]]);
    const results = await Promise.allSettled(
      claimed.map(async ([key, score]): Promise<[string, SessionRecord] | undefined> => {
        try {
          const record = await this.removals.takeOfUser(key, userId, run);
          return record === undefined ? undefined : [key, record];
        } catch (error) {
          // Out of the index but perhaps still there: back in, so that it is counted and listed again.
          await run((c) => c.zadd(index, score, key)).catch((undo: unknown) => {
            this.logger.warn(`Indexing again a session that could not be closed: ${describeError(undo)}`);
          });
          throw error;
        }
      }),
    );
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return results.flatMap((result) => (result.status === 'fulfilled' && result.value !== undefined ? [result.value] : []));
  }
}
