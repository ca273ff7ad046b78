/**
 * Preloaded into the profile script's servers, it gives a server's process what a RedisStore brings besides its
 * reads: ioredis loaded and two clients connected to a redis-server, and with `REDIS_COMPANION=traffic` the store's
 * background rhythm too (a PING on each every 0.2 s, ten ZRANGEBYSCORE a second). The app itself stays on
 * MemoryStore, so what it adds to the CPU per request is the cost of the company alone. It joins the `connected`
 * variant's server (not under `--store redis`), or the server of a copy of the build whose folder ends in `companion`
 * (`connected-memory@.build/companion`), so that it can run beside a plain copy (`connected-memory@.build/control`)
 * in the same rounds:
 *
 *   redis-server --port 6391 --save '' --daemonize yes
 *   cp -r dist .build/companion && cp -r dist .build/control
 *   REDIS_COMPANION_URL=redis://127.0.0.1:6391 REDIS_COMPANION=pings node scripts/profile-guarded-read.mjs \
 *     --mode cpu --adapters express --route read --pin true --rounds 6 --seconds 24 --sessions 1000 --writes 8 \
 *     --store redis --variants ceiling,connected,connected-memory@.build/control,connected-memory@.build/companion \
 *     --node-flags="--import ./scripts/profile-guarded-read/idle-redis-clients.mjs"
 *
 * `REDIS_COMPANION`: `load` only loads ioredis; `idle` (the default) connects two clients; `pings` adds a PING on
 * each every 0.2 s; `traffic` adds the sweeps too; `net` is one plain `net` socket with the same PINGs written by
 * hand, no ioredis. Where the build is known, `String.prototype` is kept fast after loading ioredis, as RedisStore
 * does. docs/ARCHITECTURE.md ("What a Redis client in the process costs", "What its commands cost Express") has
 * what it measured.
 */
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const option = (name) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
};
const mode = process.env.REDIS_COMPANION ?? 'idle';
const lib = option('--lib') ?? '';
const joins =
  process.argv.includes('--serve') &&
  (lib.endsWith('companion') || (option('--variant') === 'connected' && option('--redis-url') === undefined));

if (joins) {
  const url = process.env.REDIS_COMPANION_URL ?? 'redis://127.0.0.1:6391';
  const ignore = () => undefined;
  if (mode === 'net') {
    const { hostname, port } = new URL(url);
    const socket = connect({ host: hostname, port: Number(port) });
    socket.on('data', ignore);
    socket.on('error', ignore);
    setInterval(() => socket.write('*1\r\n$4\r\nPING\r\n'), 200).unref();
  } else {
    const { Redis } = createRequire(import.meta.url)('ioredis');
    if (lib !== '') {
      const fast = pathToFileURL(resolve(lib, 'util/fast-string-methods.js')).href;
      (await import(fast)).keepStringMethodsFast();
    }
    if (mode !== 'load') {
      const clients = [new Redis(url, { enableAutoPipelining: true }), new Redis(url)];
      for (const client of clients) client.on('error', ignore);
      if (mode === 'pings' || mode === 'traffic') {
        setInterval(() => {
          for (const client of clients) client.ping().catch(ignore);
        }, 200).unref();
      }
      if (mode === 'traffic') {
        setInterval(() => {
          for (let shard = 0; shard < 10; shard++) {
            clients[0].call('ZRANGEBYSCORE', `x:${shard}`, '-inf', String(Date.now()), 'LIMIT', '0', '100').catch(ignore);
          }
        }, 1000).unref();
      }
    }
  }
}
