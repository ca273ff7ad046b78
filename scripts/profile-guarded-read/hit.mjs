// The hit mode of scripts/profile-guarded-read.mjs (see hitMode).
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * A store's read of a known session alone, without HTTP: `MemoryStore.peek` against `RedisStore.cached` (a near cache
 * hit, expiry and epoch checks included) over `--sessions` connected sessions, one user each, in alternating loops of
 * a million reads; the best loop of each (the machine's other load only ever adds). Needs `--store redis`.
 */
export async function hitMode(options, redisUrl) {
  if (redisUrl === undefined) throw new Error('--mode hit needs --store redis');
  const lib = (path) => import(pathToFileURL(resolve(options.lib, path)).href);
  const { MemoryStore } = await lib('index.js');
  const { RedisStore } = await lib('stores/redis/redis.store.js');
  const stores = { memory: new MemoryStore(), redis: new RedisStore({ url: redisUrl, prefix: 'profile-hit:' }) };
  await stores.redis.open();
  const limits = { maxSessionsPerUser: 50, maxAnonymous: 10_000, maxAnonymousPerAddress: 100 };
  const now = Date.now();
  const keys = Array.from({ length: Number(options.sessions) }, () => randomBytes(32).toString('base64url'));
  for (const store of Object.values(stores)) {
    for (const [i, key] of keys.entries()) {
      const record = {
        userId: `user-${i}`,
        epoch: 0,
        createdAt: now,
        authenticatedAt: now,
        lastSeenAt: now,
        idleExpiresAt: now + 3_600_000,
        absoluteExpiresAt: now + 86_400_000,
        ip: '127.0.0.1',
        userAgent: 'profile',
        data: { 's:counter': '0' },
      };
      if (!(await store.create(key, record, limits))) throw new Error('create refused');
    }
  }
  // Read twice: the first read of a session right after its creation may race the creation's invalidation.
  for (let pass = 0; pass < 2; pass++) for (const key of keys) await stores.redis.get(key);
  const read = { memory: (key) => stores.memory.peek(key), redis: (key) => stores.redis.cached(key) };
  const best = { memory: Infinity, redis: Infinity };
  const loops = Number(options.rounds) * 5;
  for (let loop = 0; loop < loops; loop++) {
    for (const name of ['memory', 'redis']) {
      const n = 1_000_000;
      let misses = 0;
      const started = process.hrtime.bigint();
      for (let i = 0; i < n; i++) if (read[name](keys[i % keys.length]) === undefined) misses++;
      best[name] = Math.min(best[name], Number(process.hrtime.bigint() - started) / n);
      if (misses > 0) throw new Error(`${name}: ${misses} misses in a loop over sessions read before`);
    }
  }
  console.log(
    `hit ${keys.length} sessions, best of ${loops} loops of 1,000,000: MemoryStore.peek ${best.memory.toFixed(0)} ns, ` +
      `RedisStore.cached ${best.redis.toFixed(0)} ns`,
  );
  await stores.redis.close();
  await stores.memory.close?.();
}
