import { Cluster, Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { NearCache, recordBytes } from '../../lib/stores/redis/redis-near-cache.js';
import { decodeRecordHash, encodeRecord } from '../../lib/stores/redis/redis-record.js';
import { RedisStore, type RedisStoreOptions } from '../../lib/stores/redis/redis.store.js';
import type { SessionRecord } from '../../lib/stores/session-record.js';
import type { StoreLimits } from '../../lib/stores/session-store.js';
import { TimedStore } from '../../lib/stores/timed-store.js';
import { captureNestLogs } from '../support/captured-log.js';
import { reportMeasurement } from '../support/measurement.js';
import { startRedisCluster, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { makeRecord, newKey } from './store-contract.js';

/**
 * The near cache of RedisStore on a real redis-server: two stores on one Redis play two servers. What a read costs
 * is counted by Redis itself (`INFO commandstats`), never by watching the client.
 */

const NO_LIMIT: StoreLimits = { maxAnonymous: Number.MAX_SAFE_INTEGER };
/** Commands the stores send on their own, whatever the test does: the heartbeat, and the test's own INFO. */
const BACKGROUND = new Set(['ping', 'info', 'client', 'subscribe']);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const turn = () => new Promise((resolve) => setImmediate(resolve));

/** Polls `check` until it holds; fails with `what` past the deadline. */
async function eventually(what: string, check: () => boolean | Promise<boolean>, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Calls per command on `node`, the stores' background commands left out. */
async function commandCalls(node: Redis): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const line of (await node.info('commandstats')).split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (match !== null && !BACKGROUND.has(match[1]!.split('|')[0]!)) calls.set(match[1]!, Number(match[2]));
  }
  return calls;
}

/** The commands `action` cost on `nodes`, by name (background commands left out). */
async function commandsOf(nodes: Redis[], action: () => Promise<unknown>): Promise<Record<string, number>> {
  const before = await Promise.all(nodes.map(commandCalls));
  await action();
  const after = await Promise.all(nodes.map(commandCalls));
  const delta: Record<string, number> = {};
  for (const [i, calls] of after.entries()) {
    for (const [name, count] of calls) {
      const added = count - (before[i]!.get(name) ?? 0);
      if (added > 0) delta[name] = (delta[name] ?? 0) + added;
    }
  }
  return delta;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function freshPrefix(): string {
  return `n${randomBytes(6).toString('hex')}:`;
}

let server: RedisServer;
let admin: Redis;
const cleanups: Array<() => Promise<void> | void> = [];
const log = captureNestLogs();

beforeAll(async () => {
  server = await startRedisServer();
  admin = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  admin.on('error', () => undefined);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

/** An opened store on the shared server ("a server" of the application), closed after the test. */
async function openStore(options: Partial<RedisStoreOptions> = {}, prefix = freshPrefix()): Promise<RedisStore> {
  const store = new RedisStore({ url: server.url, prefix, ...options } as RedisStoreOptions);
  cleanups.push(() => store.close());
  await store.open();
  return store;
}

/** A store on a client of the test's, named so that `CLIENT LIST` tells its connections apart. */
async function openNamedStore(name: string, prefix: string): Promise<{ store: RedisStore; client: Redis }> {
  const client = new Redis(server.url, { connectionName: name, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  cleanups.push(() => client.disconnect());
  const store = new RedisStore({ client, prefix });
  cleanups.push(() => store.close());
  await store.open();
  return { store, client };
}

/** `CLIENT LIST` as records of its fields. */
async function clients(): Promise<Array<Record<string, string>>> {
  const list = (await admin.client('LIST')) as string;
  return list
    .trim()
    .split('\n')
    .map((line) => Object.fromEntries(line.split(' ').map((field) => field.split('=', 2) as [string, string])));
}

/**
 * Reads `key` on `store` until its near cache holds it (tracking may still be coming on after a reconnection, and
 * Redis be refused until a PING answers after an outage).
 */
async function cachedOn(store: RedisStore, key: string): Promise<SessionRecord> {
  await eventually('the near cache to hold the session', async () => {
    await store.get(key).catch(() => undefined);
    return store.cached(key) !== undefined;
  });
  return store.cached(key)!;
}

describe('RedisStore near cache', () => {
  it('serves a second read of a known session without a command, and synchronously through TimedStore', async () => {
    const prefix = freshPrefix();
    const a = await openStore({}, prefix);
    const b = await openStore({}, prefix);
    const key = newKey();
    await a.create(key, makeRecord({ userId: 'alice', data: { 's:cart': '3' } }), NO_LIMIT);

    const first = await commandsOf([admin], () => b.get(key));
    expect(first.hgetall).toBe(1);
    const second = await commandsOf([admin], async () => {
      for (let i = 0; i < 20; i++) expect((await b.get(key))?.data).toEqual({ 's:cart': '3' });
    });
    expect(second).toEqual({});

    const timed = new TimedStore(b, 1000);
    const read = timed.read(key);
    expect(read instanceof Promise).toBe(false);
    expect((read as SessionRecord).userId).toBe('alice');
  });

  it('hands out copies: a caller changing its record changes nothing cached', async () => {
    const store = await openStore();
    const key = newKey();
    await store.create(key, makeRecord({ data: { 'b:x': '1' } }), NO_LIMIT);
    const record = await cachedOn(store, key);
    record.data['b:x'] = 'changed';
    record.lastSeenAt = 0;
    const again = store.cached(key)!;
    expect(again.data).toEqual({ 'b:x': '1' });
    expect(again.lastSeenAt).not.toBe(0);
  });

  it('drops a copy on a write of another server; reports the window', async () => {
    const prefix = freshPrefix();
    const a = await openStore({}, prefix);
    const b = await openStore({}, prefix);
    const key = newKey();
    await a.create(key, makeRecord({ userId: 'bob' }), NO_LIMIT);
    await cachedOn(b, key);

    const fromSend: number[] = [];
    const fromReply: number[] = [];
    const WRITES = 300;
    for (let i = 0; i < WRITES; i++) {
      expect(b.cached(key)).toBeDefined();
      const sent = performance.now();
      expect(await a.setField(key, 's:n', String(i))).toBe(true);
      const replied = performance.now();
      const deadline = Date.now() + 5_000;
      while (b.cached(key) !== undefined) {
        if (Date.now() > deadline) throw new Error(`write ${i} on A never dropped B's copy`);
        await turn();
      }
      const dropped = performance.now();
      fromSend.push(dropped - sent);
      fromReply.push(Math.max(0, dropped - replied));
      expect((await b.get(key))?.data['s:n']).toBe(String(i));
      expect(b.cached(key)?.data['s:n']).toBe(String(i));
    }
    fromSend.sort((x, y) => x - y);
    fromReply.sort((x, y) => x - y);
    const ms = (value: number) => value.toFixed(3);
    reportMeasurement(
      `near cache invalidation window over ${WRITES} writes (loopback): from the write's send to the drop on the other server ` +
        `p50 ${ms(percentile(fromSend, 50))} ms, p99 ${ms(percentile(fromSend, 99))} ms; ` +
        `from the writer's reply p50 ${ms(percentile(fromReply, 50))} ms, p99 ${ms(percentile(fromReply, 99))} ms`,
    );
  });

  it('hears removals and epoch bumps of another server', async () => {
    const prefix = freshPrefix();
    const a = await openStore({}, prefix);
    const b = await openStore({}, prefix);
    const [gone, closed] = [newKey(), newKey()];
    await a.create(gone, makeRecord(), NO_LIMIT);
    await a.create(closed, makeRecord({ userId: 'carol' }), NO_LIMIT);
    await cachedOn(b, gone);
    await cachedOn(b, closed);
    await a.destroy(gone);
    await a.closeUser('carol');
    await eventually('B to drop both copies', () => b.cached(gone) === undefined && b.cached(closed) === undefined);
    expect(await b.get(gone)).toBeUndefined();
    expect(await b.get(closed)).toBeUndefined();
  });

  it('never serves a session destroyed or closed on the same server, even with a read in flight', async () => {
    const store = await openStore();
    const [destroyed, closed] = [newKey(), newKey()];
    await store.create(destroyed, makeRecord(), NO_LIMIT);
    await store.create(closed, makeRecord({ userId: 'dave' }), NO_LIMIT);
    for (let round = 0; round < 20; round++) {
      await cachedOn(store, destroyed);
      await cachedOn(store, closed);
      // Reads racing the close: whatever they answer, a read after it never finds the session.
      const racing = [store.get(destroyed), store.get(closed)];
      const [taken] = await Promise.all([store.destroy(destroyed), store.closeUser('dave'), ...racing]);
      expect(taken).toBeDefined();
      expect(store.cached(destroyed)).toBeUndefined();
      expect(store.cached(closed)).toBeUndefined();
      expect(await store.get(destroyed)).toBeUndefined();
      expect(await store.get(closed)).toBeUndefined();
      await store.create(destroyed, makeRecord(), NO_LIMIT);
      await store.create(closed, makeRecord({ userId: 'dave', epoch: await store.epochOf('dave') }), NO_LIMIT);
    }
  });

  it('drops its own copy on its own writes, synchronously', async () => {
    const store = await openStore();
    const key = newKey();
    await store.create(key, makeRecord({ userId: 'erin' }), NO_LIMIT);
    await cachedOn(store, key);
    const written = store.setField(key, 's:a', '1');
    expect(store.cached(key)).toBeUndefined();
    await written;
    expect((await store.get(key))?.data['s:a']).toBe('1');
    await cachedOn(store, key);
    const touched = store.touch(key, Date.now(), Date.now() + 60_000);
    expect(store.cached(key)).toBeUndefined();
    await touched;
    await cachedOn(store, key);
    const deleted = store.deleteField(key, 's:a');
    expect(store.cached(key)).toBeUndefined();
    await deleted;
    expect((await store.get(key))?.data).toEqual({});
  });

  it('bypasses the cache while the invalidation connection is down; a write made meanwhile is never hidden', async () => {
    const prefix = freshPrefix();
    const a = await openStore({}, prefix);
    const { store: b } = await openNamedStore('near-b', prefix);
    const key = newKey();
    await a.create(key, makeRecord({ data: { 'b:v': 'before' } }), NO_LIMIT);
    await cachedOn(b, key);

    const data = (await clients()).find((client) => client.name === 'near-b' && client.redir !== undefined && client.redir !== '-1');
    expect(data).toBeDefined();
    expect(await admin.client('KILL', 'ID', data!.redir!)).toBe(1);
    await eventually('B to stop trusting its copy', () => b.cached(key) === undefined);
    expect(await a.setField(key, 'b:v', 'during')).toBe(true);
    // Until tracking is back, every read goes to Redis and sees the write.
    const reads = await commandsOf([admin], async () => {
      for (let i = 0; i < 5; i++) {
        const cachedNow = b.cached(key);
        if (cachedNow !== undefined) expect(cachedNow.data['b:v']).toBe('during');
        expect((await b.get(key))?.data['b:v']).toBe('during');
      }
    });
    expect(reads.hgetall ?? 0).toBeGreaterThan(0);

    // Tracking comes back on the new connection: copies are served again, and invalidated again.
    expect((await cachedOn(b, key)).data['b:v']).toBe('during');
    expect(await a.setField(key, 'b:v', 'after')).toBe(true);
    await eventually('B to drop its copy again', () => b.cached(key) === undefined);
    expect((await b.get(key))?.data['b:v']).toBe('after');
  });

  it('bypasses the cache after the data connection was dropped, until tracking is on again', async () => {
    const prefix = freshPrefix();
    const a = await openStore({}, prefix);
    const { store: b, client } = await openNamedStore('near-b2', prefix);
    const key = newKey();
    await a.create(key, makeRecord({ data: { 'b:v': 'before' } }), NO_LIMIT);
    await cachedOn(b, key);
    const data = (await clients()).find((entry) => entry.name === 'near-b2' && entry.redir !== undefined && entry.redir !== '-1');
    expect(await admin.client('KILL', 'ID', data!.id!)).toBe(1);
    await eventually('B to stop trusting its copy', () => b.cached(key) === undefined);
    expect(await a.setField(key, 'b:v', 'during')).toBe(true);
    await eventually('the client to reconnect', () => client.status === 'ready');
    expect((await cachedOn(b, key)).data['b:v']).toBe('during');
    expect(await a.setField(key, 'b:v', 'after')).toBe(true);
    await eventually('B to drop its copy again', () => b.cached(key) === undefined);
    expect((await b.get(key))?.data['b:v']).toBe('after');
  });

  it('drops everything on FLUSHALL', async () => {
    const store = await openStore();
    const keys = [newKey(), newKey(), newKey()];
    for (const key of keys) {
      await store.create(key, makeRecord(), NO_LIMIT);
      await cachedOn(store, key);
    }
    await admin.flushall();
    await eventually('every copy to go', () => keys.every((key) => store.cached(key) === undefined));
    for (const key of keys) expect(await store.get(key)).toBeUndefined();
  });

  it('bypasses the cache while Redis is failing, and while it is paused past the heartbeat lease', async () => {
    const store = await openStore({ commandTimeoutMs: 200 });
    const key = newKey();
    await store.create(key, makeRecord(), NO_LIMIT);
    await cachedOn(store, key);
    store.callTimedOut();
    expect(store.cached(key)).toBeUndefined();
    await expect(store.get(key)).rejects.toThrow(/not answering/);
    await eventually('Redis to be trusted again', async () => (await store.get(key).catch(() => undefined)) !== undefined);
    await cachedOn(store, key);

    server.pause();
    try {
      await eventually('the lease to lapse', () => store.cached(key) === undefined, 5_000);
    } finally {
      server.resume();
    }
    expect((await cachedOn(store, key)).epoch).toBe(0);
  });

  it('keeps at most maxEntries records and maxBytes estimated bytes, least recently used first out', async () => {
    const store = await openStore({ nearCache: { maxEntries: 3 } });
    const keys = [newKey(), newKey(), newKey(), newKey()];
    for (const key of keys) await store.create(key, makeRecord(), NO_LIMIT);
    for (const key of keys.slice(0, 3)) await cachedOn(store, key);
    // The first is used again: the second is now the least recently used.
    expect(store.cached(keys[0]!)).toBeDefined();
    await cachedOn(store, keys[3]!);
    expect(keys.map((key) => store.cached(key) !== undefined)).toEqual([true, false, true, true]);

    const small = await openStore({ nearCache: { maxBytes: 4_000 } });
    const big = [newKey(), newKey()];
    for (const key of big) {
      await small.create(key, makeRecord({ data: { 'b:blob': 'x'.repeat(1_000) } }), NO_LIMIT);
      await cachedOn(small, key);
    }
    expect(big.map((key) => small.cached(key) !== undefined)).toEqual([false, true]);
    // A record above the bound on its own is never kept, and still served.
    const huge = newKey();
    await small.create(huge, makeRecord({ data: { 'b:blob': 'x'.repeat(3_000) } }), NO_LIMIT);
    expect((await small.get(huge))?.data['b:blob']).toHaveLength(3_000);
    expect(small.cached(huge)).toBeUndefined();
    expect(small.cached(big[1]!)).toBeDefined();
  });

  it('with nearCache: false, never caches: every read is a command', async () => {
    const store = await openStore({ nearCache: false });
    const key = newKey();
    await store.create(key, makeRecord(), NO_LIMIT);
    await store.get(key);
    const reads = await commandsOf([admin], async () => {
      for (let i = 0; i < 5; i++) expect(await store.get(key)).toBeDefined();
    });
    expect(reads.hgetall).toBe(5);
    expect(store.cached(key)).toBeUndefined();
  });

  it('refuses bad nearCache options, naming them', () => {
    const url = server.url;
    const make = (nearCache: unknown) => () => new RedisStore({ url, nearCache } as RedisStoreOptions);
    expect(make(true)).toThrow('RedisStore: nearCache must be false or an object');
    expect(make('on')).toThrow('RedisStore: nearCache must be false or an object');
    expect(make(null)).toThrow('RedisStore: nearCache must be false or an object');
    expect(make({ maxEntries: 0 })).toThrow('RedisStore: nearCache.maxEntries must be a positive integer');
    expect(make({ maxEntries: 1.5 })).toThrow('RedisStore: nearCache.maxEntries must be a positive integer');
    expect(make({ maxBytes: -1 })).toThrow('RedisStore: nearCache.maxBytes must be a positive integer');
    expect(make({ maxBytes: Number.POSITIVE_INFINITY })).toThrow('RedisStore: nearCache.maxBytes must be a positive integer');
  });
});

describe('RedisStore near cache on a Redis Cluster', () => {
  it('is bypassed: every read goes to the cluster', async () => {
    const cluster = await startRedisCluster(3);
    cleanups.push(() => cluster.stop());
    const nodes = cluster.nodes.map((node) => new Redis(node.url, { maxRetriesPerRequest: 1 }));
    cleanups.push(() => nodes.forEach((node) => node.disconnect()));
    const client = new Cluster(
      cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
      { enableOfflineQueue: false, redisOptions: { maxRetriesPerRequest: 1 } },
    );
    cleanups.push(() => client.disconnect());
    await new Promise<void>((resolve) => client.once('ready', () => resolve()));
    const store = new RedisStore({ client, prefix: freshPrefix() });
    cleanups.push(() => store.close());
    await store.open();
    const key = newKey();
    await store.create(key, makeRecord({ userId: 'frank' }), NO_LIMIT);
    await store.get(key);
    const reads = await commandsOf(nodes, async () => {
      for (let i = 0; i < 5; i++) expect((await store.get(key))?.userId).toBe('frank');
    });
    expect(reads.hgetall).toBe(5);
    expect(store.cached(key)).toBeUndefined();
    expect(log.matching('Near cache')).toEqual([]);
  }, 30_000);
});

describe('NearCache (the cache alone)', () => {
  const bounds = { maxEntries: 100, maxBytes: 1_000_000 };

  it('does not keep a read that an invalidation or a flush overtook, and keeps one that none did', () => {
    const cache = new NearCache(bounds, () => true);
    const record = makeRecord({ userId: 'gina' });

    const overtaken = cache.beginRead('k');
    cache.invalidate('k');
    cache.endRead(overtaken, record);
    expect(cache.lookup('k')).toBeUndefined();

    // Two reads of one key in flight, the key invalidated while both are: neither is kept.
    const first = cache.beginRead('k');
    const second = cache.beginRead('k');
    cache.invalidate('k');
    cache.endRead(first, record);
    cache.endRead(second, record);
    expect(cache.lookup('k')).toBeUndefined();

    const flushed = cache.beginRead('k');
    cache.flush();
    cache.endRead(flushed, record);
    expect(cache.lookup('k')).toBeUndefined();

    const clean = cache.beginRead('k');
    cache.endRead(clean, record);
    expect(cache.lookup('k')).toEqual(record);
  });

  it('serves nothing while not trusted, and copies made before a flush never again', () => {
    let trusted = true;
    const cache = new NearCache(bounds, () => trusted);
    cache.endRead(cache.beginRead('k'), makeRecord());
    trusted = false;
    expect(cache.lookup('k')).toBeUndefined();
    trusted = true;
    expect(cache.lookup('k')).toBeDefined();
    cache.flush();
    expect(cache.lookup('k')).toBeUndefined();
    expect(cache.size).toBe(0);
    expect(cache.heldBytes).toBe(0);
  });

  it('counts the bytes of the strings it holds', () => {
    const cache = new NearCache(bounds, () => true);
    const small = makeRecord();
    const large = makeRecord({ data: { 'b:blob': 'x'.repeat(10_000) } });
    expect(recordBytes('k', large) - recordBytes('k', small)).toBeGreaterThan(20_000);
    cache.endRead(cache.beginRead('a'), small);
    cache.endRead(cache.beginRead('b'), large);
    expect(cache.heldBytes).toBe(recordBytes('a', small) + recordBytes('b', large));
    cache.invalidate('b');
    expect(cache.heldBytes).toBe(recordBytes('a', small));
  });

  it('measures a hit (a copy) against decoding the HGETALL reply, as a read without the cache would', () => {
    const record = makeRecord({ userId: 'hana', data: { 's:cart': '[1,2,3]', 'b:theme': '"dark"' } });
    const reply = encodeRecord(record);
    const cache = new NearCache(bounds, () => true);
    cache.endRead(cache.beginRead('k'), record);
    const N = 200_000;
    const time = (run: () => unknown) => {
      const started = performance.now();
      for (let i = 0; i < N; i++) run();
      return ((performance.now() - started) * 1e6) / N;
    };
    time(() => cache.lookup('k'));
    time(() => decodeRecordHash(reply));
    const hit = time(() => cache.lookup('k'));
    const decode = time(() => decodeRecordHash(reply));
    expect(decodeRecordHash(reply)).toEqual(cache.lookup('k'));
    reportMeasurement(
      `near cache: a hit (lookup and copy) ${hit.toFixed(0)} ns, decoding the HGETALL reply ${decode.toFixed(0)} ns ` +
        `(Node ${process.versions.node}; ${recordBytes('k', record)} estimated bytes held for this record)`,
    );
  });
});
