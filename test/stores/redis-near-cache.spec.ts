import { performance } from 'node:perf_hooks';
import { RedisKeys } from '../../lib/stores/redis/redis-keys.js';
import { RedisStore, type RedisStoreOptions } from '../../lib/stores/redis/redis.store.js';
import type { SessionRecord } from '../../lib/stores/session-record.js';
import { TimedStore } from '../../lib/stores/timed-store.js';
import { reportMeasurement } from '../support/measurement.js';
import { cachedOn, commandsOf, eventually, freshPrefix, nearCacheFixture, NO_LIMIT } from '../support/near-cache-fixture.js';
import { makeRecord, newKey } from './store-contract.js';

/** The near cache of RedisStore on a real redis-server, two stores on one Redis playing two servers: reads and writes. */

const turn = () => new Promise((resolve) => setImmediate(resolve));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const near = nearCacheFixture();

describe('RedisStore near cache', () => {
  it('serves a second read of a known session without a command, and synchronously through TimedStore', async () => {
    const prefix = freshPrefix();
    const a = await near.openStore({}, prefix);
    const b = await near.openStore({}, prefix);
    const key = newKey();
    await a.create(key, makeRecord({ userId: 'alice', data: { 's:cart': '3' } }), NO_LIMIT);

    const first = await commandsOf([near.admin], () => b.get(key));
    expect(first.hgetall).toBe(1);
    const second = await commandsOf([near.admin], async () => {
      for (let i = 0; i < 20; i++) expect((await b.get(key))?.data).toEqual({ 's:cart': '3' });
    });
    expect(second).toEqual({});

    const timed = new TimedStore(b, 1000);
    const read = timed.read(key);
    expect(read instanceof Promise).toBe(false);
    expect((read as SessionRecord).userId).toBe('alice');
  });

  it('hands out copies: a caller changing its record changes nothing cached', async () => {
    const store = await near.openStore();
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
    const a = await near.openStore({}, prefix);
    const b = await near.openStore({}, prefix);
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
    const a = await near.openStore({}, prefix);
    const b = await near.openStore({}, prefix);
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
    const store = await near.openStore();
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
    const store = await near.openStore();
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

  it('reads a session again after a touch of its own, and still sees a write from outside the library after it', async () => {
    const prefix = freshPrefix();
    const a = await near.openStore({}, prefix);
    const b = await near.openStore({}, prefix);
    const key = newKey();
    await a.create(key, makeRecord({ userId: 'jane', idleIn: 60_000 }), NO_LIMIT);
    await cachedOn(a, key);
    await cachedOn(b, key);
    const lastSeenAt = Date.now() + 5;
    const touched = a.touch(key, lastSeenAt, lastSeenAt + 120_000);
    expect(a.cached(key)).toBeUndefined();
    expect(await touched).toBe(true);
    // Read again in the background: the copy comes back with the new times, no request having asked for it.
    await eventually('A to hold the touched session again', () => a.cached(key)?.lastSeenAt === lastSeenAt, 5_000);
    expect(await commandsOf([near.admin], () => a.get(key))).toEqual({});
    await eventually('B to drop its copy', () => b.cached(key) === undefined, 5_000);
    expect((await b.get(key))?.lastSeenAt).toBe(lastSeenAt);
    await near.admin.del(`${prefix}s:${key}`);
    await eventually('A to hear of the removal', () => a.cached(key) === undefined, 5_000);
    expect(await a.get(key)).toBeUndefined();
    expect(await a.touch(key, Date.now(), Date.now() + 60_000)).toBe(false);
  });

  it('holds the session again after every touch of its own, however its invalidation and reply interleave', async () => {
    // Redis sends the touch's invalidation on the target connection, its reply on the data connection: either may be
    // read first. A read sent before the invalidation is handled would be made dirty by it and never kept.
    const store = await near.openStore();
    const key = newKey();
    await store.create(key, makeRecord({ userId: 'kim', idleIn: 60_000 }), NO_LIMIT);
    await cachedOn(store, key);
    for (let i = 0; i < 500; i++) {
      const lastSeenAt = Date.now() + i;
      expect(await store.touch(key, lastSeenAt, lastSeenAt + 120_000)).toBe(true);
      await eventually(`the copy touched ${i + 1} times to be read again`, () => store.cached(key)?.lastSeenAt === lastSeenAt, 2_000);
    }
    expect(await commandsOf([near.admin], () => store.get(key))).toEqual({});
  });

  it('reads only the epoch, not the session, when a cached copy outlived its user epoch in the epoch cache', async () => {
    const prefix = freshPrefix();
    const store = await near.openStore({}, prefix);
    const key = newKey();
    await store.create(key, makeRecord({ userId: 'olga', data: { 's:cart': '5' } }), NO_LIMIT);
    // The user's hash lives 300 ms: its epoch is cached that long (an epoch is never trusted past its hash's life).
    const user = new RedisKeys(prefix).user('olga');
    await near.admin.hset(user, 'epoch', '0');
    await near.admin.pexpire(user, 300);
    await cachedOn(store, key);
    await eventually('the user hash to expire', async () => (await near.admin.exists(user)) === 0);
    await eventually('the cached epoch to lapse', () => store.cached(key) === undefined, 5_000);

    const sent = await commandsOf([near.admin], async () => expect((await store.get(key))?.data).toEqual({ 's:cart': '5' }));
    // The epoch script (its HGET and PTTL counted too), and no HGETALL.
    expect(sent).toEqual({ evalsha: 1, hget: 1, pttl: 1 });
    expect(await commandsOf([near.admin], () => store.get(key))).toEqual({});
  });

  it('stops serving a copy whose user another server closed, even when the session itself was not written', async () => {
    const prefix = freshPrefix();
    const store = await near.openStore({}, prefix);
    const key = newKey();
    await store.create(key, makeRecord({ userId: 'pia', data: { 's:cart': '2' } }), NO_LIMIT);
    expect((await cachedOn(store, key)).data).toEqual({ 's:cart': '2' });
    // What a close of the user on another server leaves when its removal of this session has not run: the epoch
    // bumped and announced, the session's hash untouched (so Redis invalidates no copy of it).
    const keys = new RedisKeys(prefix);
    await near.admin.hincrby(keys.user('pia'), 'epoch', 1);
    await near.admin.publish(keys.channel, JSON.stringify({ origin: 'another-server', user: 'pia' }));
    await eventually('the copy to stop being served', () => store.cached(key) === undefined);
    expect(await store.get(key)).toBeUndefined();
    expect(await near.admin.exists(keys.session(key))).toBe(0);
  });

  it('keeps at most maxEntries records and maxBytes estimated bytes, least recently used first out', async () => {
    const store = await near.openStore({ nearCache: { maxEntries: 3 } });
    const keys = [newKey(), newKey(), newKey(), newKey()];
    for (const key of keys) await store.create(key, makeRecord(), NO_LIMIT);
    // The first is read again once cached (cachedOn); the second and third only read, which caches them.
    await cachedOn(store, keys[0]!);
    for (const key of keys.slice(1)) expect(await store.get(key)).toBeDefined();
    // So when the fourth comes in, the second is the least recently used: it goes, the first stays.
    expect(keys.map((key) => store.cached(key) !== undefined)).toEqual([true, false, true, true]);

    const small = await near.openStore({ nearCache: { maxBytes: 4_000 } });
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
    const store = await near.openStore({ nearCache: false });
    const key = newKey();
    await store.create(key, makeRecord(), NO_LIMIT);
    await store.get(key);
    const reads = await commandsOf([near.admin], async () => {
      for (let i = 0; i < 5; i++) expect(await store.get(key)).toBeDefined();
    });
    expect(reads.hgetall).toBe(5);
    expect(store.cached(key)).toBeUndefined();
  });

  it('refuses bad nearCache options, naming them', () => {
    const url = near.server.url;
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
