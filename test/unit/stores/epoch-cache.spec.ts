import { Logger } from '@nestjs/common';
import { UserEpochCache } from '../../../lib/stores/redis/redis-epoch-cache.js';
import type { RunCommand } from '../../../lib/stores/redis/redis-failure-detector.js';
import { RedisKeys } from '../../../lib/stores/redis/redis-keys.js';

/**
 * UserEpochCache's reads of an epoch in flight, on a `run` whose replies the test gives in its own order (what they
 * cost Redis, and the burst end to end, are in test/stores/redis-near-cache-joined-reads.spec.ts).
 */

/** The epoch script's replies, `[epoch, pttl]`, given by the test: one entry per command sent. */
function epochs(trusted: () => boolean = () => true) {
  const sent: Array<(reply: unknown) => void> = [];
  const run = (() => new Promise<unknown>((resolve) => sent.push(resolve))) as unknown as RunCommand;
  const cache = new UserEpochCache(new RedisKeys('t:'), run, trusted, new Logger('epoch-cache.spec'));
  return { cache, sent };
}

describe('UserEpochCache: reads of an epoch in flight', () => {
  it('joins a read of the same user’s epoch in flight: one command, one lease; another user’s is its own', async () => {
    const { cache, sent } = epochs();
    const now = Date.now();
    const first = cache.fetch('ann', now);
    const second = cache.fetch('ann', now);
    const other = cache.fetch('bob', now);
    expect(sent).toHaveLength(2);
    sent[0]!([3, 30_000]);
    sent[1]!([7, 30_000]);
    const [a, b, c] = await Promise.all([first, second, other]);
    expect(a).toBe(b);
    expect(a?.epoch).toBe(3);
    expect(c?.epoch).toBe(7);
    expect(cache.cached('ann', now)?.epoch).toBe(3);
    // Done, the read is joined no more: the next one (made when the lease lapsed, say) is sent.
    void cache.fetch('ann', now);
    expect(sent).toHaveLength(3);
  });

  it('does not join a read that an invalidation of the epochs overtook: the later read decides', async () => {
    const { cache, sent } = epochs();
    const now = Date.now();
    const before = cache.fetch('cara', now);
    cache.forget('cara');
    const after = cache.fetch('cara', now);
    expect(sent).toHaveLength(2);
    sent[1]!([5, 30_000]);
    sent[0]!([4, 30_000]);
    expect((await before)?.epoch).toBe(4);
    expect((await after)?.epoch).toBe(5);
    expect(cache.cached('cara', now)?.epoch).toBe(5);

    const cleared = cache.fetch('dan', now);
    cache.clear();
    void cache.fetch('dan', now);
    expect(sent).toHaveLength(4);
    sent[2]!([1, 30_000]);
    expect((await cleared)?.epoch).toBe(1);
  });

  it('joins nothing while not trusted: each read is sent', () => {
    const { cache, sent } = epochs(() => false);
    const now = Date.now();
    void cache.fetch('eve', now);
    void cache.fetch('eve', now);
    expect(sent).toHaveLength(2);
  });
});
