import { RedisKeys } from '../../lib/stores/redis/redis-keys.js';
import { cachedOn, commandsOf, eventually, freshPrefix, nearCacheFixture, NO_LIMIT } from '../support/near-cache-fixture.js';
import { makeRecord, newKey } from './store-contract.js';

/**
 * Reads of one session while its HGETALL is in flight, on a real redis-server: they join it when nothing invalidated
 * the key since it was sent and the cache is trusted, each caller getting its own copy; otherwise each reads Redis.
 */

const near = nearCacheFixture();
const BURST = 10;

describe('RedisStore near cache: reads joining the one in flight', () => {
  it('answers a burst of reads right after a write of another server with one HGETALL, a copy to each caller', async () => {
    const prefix = freshPrefix();
    const a = await near.openStore({}, prefix);
    const b = await near.openStore({}, prefix);
    const key = newKey();
    await a.create(key, makeRecord({ userId: 'lena', data: { 's:n': '1' } }), NO_LIMIT);
    await cachedOn(b, key);
    expect(await a.setField(key, 's:n', '2')).toBe(true);
    await eventually('B to drop its copy', () => b.cached(key) === undefined, 5_000);

    let records: Array<Awaited<ReturnType<typeof b.get>>> = [];
    const sent = await commandsOf([near.admin], async () => {
      records = await Promise.all(Array.from({ length: BURST }, () => b.get(key)));
    });
    expect(sent).toEqual({ hgetall: 1 });
    for (const record of records) expect(record?.data).toEqual({ 's:n': '2' });
    expect(new Set(records).size).toBe(BURST);
    expect(new Set(records.map((record) => record!.data)).size).toBe(BURST);
    // The engine writes a record's data in place: one caller's change reaches no other caller, nor the cache.
    records[0]!.data['s:n'] = 'changed';
    records[0]!.lastSeenAt = 0;
    for (const record of records.slice(1)) expect(record?.data['s:n']).toBe('2');
    expect(b.cached(key)?.data).toEqual({ 's:n': '2' });
    expect(b.cached(key)?.lastSeenAt).not.toBe(0);
  });

  it('does not join a read that a write of its own server overtook: the read after the write sees it', async () => {
    const store = await near.openStore();
    const key = newKey();
    await store.create(key, makeRecord({ userId: 'max', data: { 's:n': '1' } }), NO_LIMIT);
    const sent = await commandsOf([near.admin], async () => {
      // Sent in this order on one connection: HGETALL, the write's script, HGETALL.
      const before = store.get(key);
      const written = store.setField(key, 's:n', '2');
      const after = store.get(key);
      expect((await before)?.data['s:n']).toBe('1');
      expect(await written).toBe(true);
      expect((await after)?.data['s:n']).toBe('2');
    });
    expect(sent.hgetall).toBe(2);
    await eventually('the store to hold the written value', async () => (await store.get(key))?.data['s:n'] === '2', 5_000);
  });

  it('reads a user’s epoch once for a burst of reads of its sessions after its cached epoch lapsed', async () => {
    const prefix = freshPrefix();
    const store = await near.openStore({}, prefix);
    const keys = Array.from({ length: 5 }, () => newKey());
    for (const key of keys) await store.create(key, makeRecord({ userId: 'omar' }), NO_LIMIT);
    // The user's hash lives 300 ms: its epoch is cached that long (an epoch is never trusted past its hash's life).
    const user = new RedisKeys(prefix).user('omar');
    await near.admin.hset(user, 'epoch', '0');
    await near.admin.pexpire(user, 300);
    for (const key of keys) await cachedOn(store, key);
    await eventually('the user hash to expire', async () => (await near.admin.exists(user)) === 0);
    await eventually('the cached epoch to lapse', () => store.cached(keys[0]!) === undefined, 5_000);
    const sent = await commandsOf([near.admin], async () => {
      const records = await Promise.all([...keys, ...keys].map((key) => store.get(key)));
      for (const record of records) expect(record?.userId).toBe('omar');
    });
    // The epoch script (its HGET and PTTL counted too), once; the sessions come from the near cache.
    expect(sent).toEqual({ evalsha: 1, hget: 1, pttl: 1 });
  });

  it('joins nothing while the cache is not trusted: each read of a burst goes to Redis', async () => {
    const prefix = freshPrefix();
    const { store } = await near.openNamedStore('joined-reads', prefix);
    const key = newKey();
    await store.create(key, makeRecord({ userId: 'nina' }), NO_LIMIT);
    await cachedOn(store, key);
    const data = (await near.clients()).find(
      (client) => client.name === 'joined-reads' && client.redir !== undefined && client.redir !== '-1',
    );
    expect(await near.admin.client('KILL', 'ID', data!.redir!)).toBe(1);
    await eventually('the store to stop trusting its copy', () => store.cached(key) === undefined);
    const sent = await commandsOf([near.admin], async () => {
      const records = await Promise.all(Array.from({ length: BURST }, () => store.get(key)));
      for (const record of records) expect(record?.userId).toBe('nina');
    });
    expect(sent.hgetall).toBe(BURST);
  });
});
