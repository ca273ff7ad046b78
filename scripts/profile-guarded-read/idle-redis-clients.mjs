/**
 * Preloaded into the profile script's servers, it gives the `connected` variant's process what a RedisStore brings
 * besides its reads: ioredis loaded and two clients connected to a redis-server, and with `REDIS_COMPANION=traffic`
 * the store's background rhythm too (a PING on each every 0.2 s, ten ZRANGEBYSCORE a second). The app itself stays
 * on MemoryStore, so what it adds to the CPU per request is the cost of the company alone. The other variants are
 * left as they are.
 *
 *   redis-server --port 6391 --save '' --daemonize yes
 *   REDIS_COMPANION_URL=redis://127.0.0.1:6391 REDIS_COMPANION=idle node scripts/profile-guarded-read.mjs \
 *     --mode cpu --adapters express --route read --sessions 1000 --variants ceiling,connected \
 *     --node-flags="--import ./scripts/profile-guarded-read/idle-redis-clients.mjs"
 *
 * `REDIS_COMPANION=load` only loads ioredis. docs/ARCHITECTURE.md ("What a Redis client in the process costs") has
 * what it measured.
 */
import { createRequire } from 'node:module';

const served = process.argv.indexOf('--variant');
const mode = process.env.REDIS_COMPANION ?? 'idle';

if (served > 0 && process.argv[served + 1] === 'connected') {
  const { Redis } = createRequire(import.meta.url)('ioredis');
  if (mode !== 'load') {
    const url = process.env.REDIS_COMPANION_URL ?? 'redis://127.0.0.1:6391';
    const clients = [new Redis(url, { enableAutoPipelining: true }), new Redis(url)];
    for (const client of clients) client.on('error', () => undefined);
    if (mode === 'traffic') {
      const ignore = () => undefined;
      setInterval(() => {
        for (const client of clients) client.ping().catch(ignore);
      }, 200).unref();
      setInterval(() => {
        for (let shard = 0; shard < 10; shard++) {
          clients[0].call('ZRANGEBYSCORE', `x:${shard}`, '-inf', String(Date.now()), 'LIMIT', '0', '100').catch(ignore);
        }
      }, 1000).unref();
    }
  }
}
