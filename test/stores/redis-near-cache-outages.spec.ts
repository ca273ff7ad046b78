import { cachedOn, commandsOf, eventually, freshPrefix, nearCacheFixture, NO_LIMIT } from '../support/near-cache-fixture.js';
import { makeRecord, newKey } from './store-contract.js';

/**
 * The near cache of RedisStore when the invalidation path or Redis fails, on a real redis-server: copies are
 * bypassed, never trusted, and a write made meanwhile is never hidden.
 */

const near = nearCacheFixture();

describe('RedisStore near cache through outages', () => {
  it('bypasses the cache while the invalidation connection is down; a write made meanwhile is never hidden', async () => {
    const prefix = freshPrefix();
    const a = await near.openStore({}, prefix);
    const { store: b } = await near.openNamedStore('near-b', prefix);
    const key = newKey();
    await a.create(key, makeRecord({ data: { 'b:v': 'before' } }), NO_LIMIT);
    await cachedOn(b, key);

    const data = (await near.clients()).find((client) => client.name === 'near-b' && client.redir !== undefined && client.redir !== '-1');
    expect(data).toBeDefined();
    expect(await near.admin.client('KILL', 'ID', data!.redir!)).toBe(1);
    await eventually('B to stop trusting its copy', () => b.cached(key) === undefined);
    expect(await a.setField(key, 'b:v', 'during')).toBe(true);
    // Until tracking is back, every read goes to Redis and sees the write.
    const reads = await commandsOf([near.admin], async () => {
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
    const a = await near.openStore({}, prefix);
    const { store: b, client } = await near.openNamedStore('near-b2', prefix);
    const key = newKey();
    await a.create(key, makeRecord({ data: { 'b:v': 'before' } }), NO_LIMIT);
    await cachedOn(b, key);
    const data = (await near.clients()).find((entry) => entry.name === 'near-b2' && entry.redir !== undefined && entry.redir !== '-1');
    expect(await near.admin.client('KILL', 'ID', data!.id!)).toBe(1);
    await eventually('B to stop trusting its copy', () => b.cached(key) === undefined);
    expect(await a.setField(key, 'b:v', 'during')).toBe(true);
    await eventually('the client to reconnect', () => client.status === 'ready');
    expect((await cachedOn(b, key)).data['b:v']).toBe('during');
    expect(await a.setField(key, 'b:v', 'after')).toBe(true);
    await eventually('B to drop its copy again', () => b.cached(key) === undefined);
    expect((await b.get(key))?.data['b:v']).toBe('after');
  });

  it('stops serving a user’s copy the moment the pub/sub subscription is lost, before it is back', async () => {
    const prefix = freshPrefix();
    const a = await near.openStore({}, prefix);
    const { store: b } = await near.openNamedStore('near-sub', prefix);
    const key = newKey();
    await a.create(key, makeRecord({ userId: 'ivan' }), NO_LIMIT);
    await cachedOn(b, key);
    const clients = (await near.clients()).filter((client) => client.name === 'near-sub');
    const target = clients.find((client) => client.redir !== undefined && client.redir !== '-1')!.redir;
    const subscriber = clients.find((client) => client.flags!.includes('P') && client.id !== target);
    expect(subscriber).toBeDefined();

    // Killed, and held from subscribing again for 400 ms (its new connection's commands wait out the pause), while
    // the invalidation path's lease (600 ms) still stands: only the lost subscription can stop the copy being served.
    expect(await near.admin.client('KILL', 'ID', subscriber!.id!)).toBe(1);
    await near.admin.client('PAUSE', '400', 'ALL');
    await eventually('B to stop serving ivan’s copy', () => b.cached(key) === undefined, 300);

    // Back: served again, and a close on A reaches B through the subscription.
    expect((await cachedOn(b, key)).userId).toBe('ivan');
    await a.closeUser('ivan');
    await eventually('B to drop ivan’s copy', () => b.cached(key) === undefined);
    expect(await b.get(key)).toBeUndefined();
  });

  it('drops everything on FLUSHALL', async () => {
    const store = await near.openStore();
    const keys = [newKey(), newKey(), newKey()];
    for (const key of keys) {
      await store.create(key, makeRecord(), NO_LIMIT);
      await cachedOn(store, key);
    }
    await near.admin.flushall();
    await eventually('every copy to go', () => keys.every((key) => store.cached(key) === undefined));
    for (const key of keys) expect(await store.get(key)).toBeUndefined();
  });

  it('bypasses the cache while Redis is failing, and while it is paused past the heartbeat lease', async () => {
    const store = await near.openStore({ commandTimeoutMs: 200 });
    const key = newKey();
    await store.create(key, makeRecord(), NO_LIMIT);
    await cachedOn(store, key);
    store.callTimedOut();
    expect(store.cached(key)).toBeUndefined();
    await expect(store.get(key)).rejects.toThrow(/not answering/);
    await eventually('Redis to be trusted again', async () => (await store.get(key).catch(() => undefined)) !== undefined);
    await cachedOn(store, key);

    near.server.pause();
    try {
      await eventually('the lease to lapse', () => store.cached(key) === undefined, 5_000);
    } finally {
      near.server.resume();
    }
    expect((await cachedOn(store, key)).epoch).toBe(0);
  });
});
