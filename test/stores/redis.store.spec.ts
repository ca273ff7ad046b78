import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { Cluster, Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { expiresAt } from '../../lib/stores/session-record.js';
import { RedisStore, type RedisStoreOptions } from '../../lib/stores/redis/redis.store.js';
import { EXPIRY_GRACE_MS, USER_FLOOR_MS } from '../../lib/stores/redis/redis-ttl.js';
import type { StoreLimits, StoreRemoval } from '../../lib/stores/session-store.js';
import { TimedStore } from '../../lib/stores/timed-store.js';
import { captureNestLogs } from '../support/captured-log.js';
import { reportMeasurement } from '../support/measurement.js';
import { startRedisCluster, startRedisServer, type RedisCluster, type RedisServer } from '../support/redis-server.js';
import { makeRecord, newKey, runStoreContract } from './store-contract.js';

const NO_LIMIT: StoreLimits = { maxAnonymous: Number.MAX_SAFE_INTEGER };
/** The policy's `storeTimeout` in the fault tests: it, not the store, bounds a call made for a request. */
const STORE_TIMEOUT_MS = 1000;
const HOUR = 3_600_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it holds; fails with `what` past the deadline. */
async function eventually(what: string, check: () => boolean | Promise<boolean>, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A prefix no other test uses, so that tests never see each other's keys. */
function freshPrefix(): string {
  return `t${randomBytes(6).toString('hex')}:`;
}

/** The keys under `prefix` on one node. SCAN is for the tests only: the store itself never scans. */
async function keysUnder(node: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0');
  return found;
}

async function deleteUnder(node: Redis, prefix: string): Promise<void> {
  // One key per command: on a cluster node the keys of a prefix span slots.
  for (const key of await keysUnder(node, prefix)) await node.del(key);
}

/** A client for the test's own raw commands, which never queues and gives up quickly. */
function adminClient(url: string): Redis {
  const admin = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => 100, lazyConnect: false });
  admin.on('error', () => undefined);
  return admin;
}

let server: RedisServer;
let admin: Redis;
const openStores: RedisStore[] = [];
/** What the stores log (connection losses, corrupt keys, missed deadlines): asserted where it matters, never printed. */
const log = captureNestLogs();

beforeAll(async () => {
  server = await startRedisServer();
  admin = adminClient(server.url);
});

afterAll(async () => {
  await Promise.all(openStores.splice(0).map((store) => store.close()));
  admin?.disconnect();
  await server?.stop();
});

/** An opened store on the shared server, closed by the test's afterEach. */
async function openStore(options: Partial<RedisStoreOptions> = {}): Promise<RedisStore> {
  const store = new RedisStore({ url: server.url, ...options } as RedisStoreOptions);
  openStores.push(store);
  await store.open();
  return store;
}

runStoreContract(
  'RedisStore',
  async () => {
    const prefix = freshPrefix();
    const store = new RedisStore({ url: server.url, prefix });
    await store.open();
    return {
      store,
      async cleanup() {
        await store.close();
        await deleteUnder(admin, prefix);
      },
    };
  },
  { trimUser: true },
);

describe('RedisStore', () => {
  let prefix: string;

  beforeEach(() => {
    prefix = freshPrefix();
  });

  afterEach(async () => {
    await Promise.all(openStores.splice(0).map((store) => store.close()));
    await deleteUnder(admin, prefix);
  });

  describe('options', () => {
    it('needs exactly one of client and url, and a positive command timeout', () => {
      expect(() => new RedisStore({})).toThrow(/client.*url/);
      const client = new Redis(server.url, { lazyConnect: true });
      try {
        expect(() => new RedisStore({ client, url: server.url })).toThrow(/client.*url/);
        expect(() => new RedisStore({ client, commandTimeoutMs: 0 })).toThrow(/commandTimeoutMs/);
      } finally {
        client.disconnect();
      }
    });

    it('closes the connections it made but never the client it was given', async () => {
      const client = new Redis(server.url);
      try {
        const store = new RedisStore({ client, prefix });
        await store.open();
        const key = newKey();
        expect(await store.create(key, makeRecord({ userId: 'alice' }), NO_LIMIT)).toBe(true);
        const subscribers = async () => Number(((await admin.call('PUBSUB', 'NUMSUB', `${prefix}removals`)) as [string, number])[1]);
        expect(await subscribers()).toBe(1);
        await store.close();
        // The subscriber connection (its own duplicate) is gone; the client passed in still works.
        await eventually('the subscriber connection to close', async () => (await subscribers()) === 0);
        expect(client.status).toBe('ready');
        expect(await client.exists(`${prefix}s:${key}`)).toBe(1);
      } finally {
        client.disconnect();
      }
    });

    it('opens again after a close, with the same data', async () => {
      const store = new RedisStore({ url: server.url, prefix });
      await store.open();
      const key = newKey();
      await store.create(key, makeRecord({ userId: 'alice' }), NO_LIMIT);
      await store.close();
      await store.open();
      try {
        expect((await store.get(key))?.userId).toBe('alice');
      } finally {
        await store.close();
      }
    });

    it('rejects open with a clear error when nothing listens, and closes at once after', async () => {
      const { freePort } = await import('../support/redis-server.js');
      const store = new RedisStore({ url: `redis://127.0.0.1:${await freePort()}`, prefix });
      await expect(store.open()).rejects.toThrow(/could not connect to Redis/);
      expect(log.matching('ECONNREFUSED')).not.toHaveLength(0);
      const closing = Date.now();
      await store.close();
      expect(Date.now() - closing).toBeLessThan(500);
    });
  });

  describe('layout and TTLs', () => {
    it('gives every key it writes a TTL, none past what its sessions need', async () => {
      const store = await openStore({ prefix });
      const now = Date.now();
      const connected = makeRecord({ userId: 'al{ice}', idleIn: 60_000, absoluteIn: 2 * HOUR, data: { 's:a': '1' } });
      const anonymous = makeRecord({ idleIn: 30_000, absoluteIn: HOUR, data: { 'b:cart': '[]' } });
      const [k1, k2, k3] = [newKey(), newKey(), newKey()];
      await store.create(k1, connected, NO_LIMIT);
      await store.create(k2, anonymous, NO_LIMIT);
      await store.create(k3, makeRecord({ userId: 'al{ice}', idleIn: 120_000, absoluteIn: 3 * HOUR }), NO_LIMIT);
      await store.setField(k1, 's:b', '2');
      await store.touch(k1, Date.now(), Date.now() + 90_000);
      await store.setUserField('al{ice}', 'prefs', '{}');
      // A user with no session: the epoch and the fields still expire.
      await store.closeUser('bob}');
      await store.setUserField('carol', 'prefs', '{}');

      const keys = await keysUnder(admin, prefix);
      expect(keys.sort()).toEqual(
        [
          `${prefix}s:${k1}`,
          `${prefix}s:${k2}`,
          `${prefix}s:${k3}`,
          `${prefix}anon`,
          `${prefix}{${prefix}anon}:a:192.0.2.1`,
          `${prefix}{u:al%007bice%007d}:sessions`,
          `${prefix}{u:al%007bice%007d}:user`,
          `${prefix}{u:bob%007d}:user`,
          `${prefix}{u:carol}:user`,
          // The expiry schedule: one shard or more, depending on where the three keys hash.
          ...keys.filter((key) => key.startsWith(`${prefix}x:`)),
        ].sort(),
      );
      expect(keys.filter((key) => key.startsWith(`${prefix}x:`)).length).toBeGreaterThanOrEqual(1);

      const slack = 2_000;
      const latestAbsolute = now + 3 * HOUR;
      const absoluteOf = new Map([
        [k1, connected.absoluteExpiresAt],
        [k2, anonymous.absoluteExpiresAt],
        [k3, latestAbsolute],
      ]);
      // An expiry shard lives as long as the sessions it schedules can: touches leave it alone.
      const shardBounds = new Map<string, number>();
      for (const key of keys.filter((name) => name.startsWith(`${prefix}x:`))) {
        const members = await admin.zrange(key, '0', '-1');
        shardBounds.set(key, Math.max(...members.map((member) => absoluteOf.get(member)!)) + EXPIRY_GRACE_MS);
      }
      const bound = (key: string): number => {
        if (key === `${prefix}s:${k1}`) return now + 90_000 + EXPIRY_GRACE_MS;
        if (key === `${prefix}s:${k2}`) return expiresAt(anonymous) + EXPIRY_GRACE_MS;
        if (key === `${prefix}s:${k3}`) return now + 120_000 + EXPIRY_GRACE_MS;
        if (key.includes(`${prefix}anon`)) return anonymous.absoluteExpiresAt + EXPIRY_GRACE_MS;
        if (key.includes('{u:al%007bice%007d}')) return latestAbsolute + EXPIRY_GRACE_MS;
        if (key.includes('{u:bob%007d}') || key.includes('{u:carol}')) return Date.now() + USER_FLOOR_MS;
        return shardBounds.get(key)!;
      };
      for (const key of keys) {
        const ttl = await admin.pttl(key);
        expect({ key, hasTtl: ttl > 0 }).toEqual({ key, hasTtl: true });
        expect({ key, outlives: Date.now() + ttl > bound(key) + slack }).toEqual({ key, outlives: false });
      }
      // Each session hash lives no longer than its own expiry plus the grace (not the user's latest).
      expect(await admin.pttl(`${prefix}s:${k1}`)).toBeLessThanOrEqual(90_000 + EXPIRY_GRACE_MS + slack);
    });

    it('leaves no key behind once its sessions expired, without anyone reading them', async () => {
      const store = await openStore({ prefix });
      const heard: StoreRemoval[] = [];
      store.subscribe((removal) => heard.push(removal));
      await store.create(newKey(), makeRecord({ userId: 'alice', idleIn: 300, data: { 's:a': '1' } }), NO_LIMIT);
      await store.create(newKey(), makeRecord({ absoluteIn: 300, data: { 'b:a': '1' } }), NO_LIMIT);
      expect((await keysUnder(admin, prefix)).length).toBeGreaterThanOrEqual(4);
      await eventually('both expiries', () => heard.length === 2);
      expect(heard.map((removal) => removal.reason)).toEqual(['expired', 'expired']);
      expect(heard.every((removal) => removal.record !== undefined)).toBe(true);
      expect(await keysUnder(admin, prefix)).toEqual([]);
    });

    it('keeps a user id with braces on one slot, apart from other users', async () => {
      const store = await openStore({ prefix });
      const tricky = ['a}b', '{u:a}', 'a', 'a%007db', 'x\uD83D\uDE00'];
      for (const userId of tricky) await store.create(newKey(), makeRecord({ userId }), NO_LIMIT);
      for (const userId of tricky) {
        const listed = await store.listUser(userId);
        expect(listed.map(([, record]) => record.userId)).toHaveLength(1);
      }
      const keys = (await keysUnder(admin, prefix)).filter((key) => key.includes('{u:'));
      for (const key of keys) {
        // The hash tag is exactly `{u:<escaped>}`: no brace inside it.
        expect(key.slice(prefix.length)).toMatch(/^\{u:[A-Za-z0-9_.@%-]+\}:(sessions|user)$/);
      }
      // Redis would turn a lone surrogate into U+FFFD, and the record would name another user than its index.
      await expect(store.create(newKey(), makeRecord({ userId: 'x\uD800' }), NO_LIMIT)).rejects.toThrow(/well-formed/);
    });

    it('keeps the anonymous sessions of each address in a set of its own, emptied as they leave', async () => {
      const store = await openStore({ prefix });
      const limits: StoreLimits = { maxAnonymous: Number.MAX_SAFE_INTEGER, maxPerAddress: 2 };
      const flood = [newKey(), newKey(), newKey()];
      for (const key of flood) await store.create(key, makeRecord({ ip: '2001:db8::1' }), limits);
      const none = newKey();
      await store.create(none, makeRecord({ ip: null }), limits);
      const address = `${prefix}{${prefix}anon}:a:2001%003adb8%003a%003a1`;
      expect(await admin.zrange(address, '0', '-1')).toEqual(flood.slice(1));
      expect(await admin.zrange(`${prefix}{${prefix}anon}:n`, '0', '-1')).toEqual([none]);
      expect(await admin.zrange(`${prefix}anon`, '0', '-1')).toEqual([...flood.slice(1), none]);
      for (const key of [...flood, none]) await store.destroy(key);
      expect(await keysUnder(admin, prefix)).toEqual([]);
    });

    it('removes a destroyed session from the user index and the expiry schedule', async () => {
      const store = await openStore({ prefix });
      const key = newKey();
      await store.create(key, makeRecord({ userId: 'alice' }), NO_LIMIT);
      await store.destroy(key);
      const keys = await keysUnder(admin, prefix);
      // Only the user's hash could remain, and alice has none (no epoch, no fields).
      expect(keys).toEqual([]);
    });
  });

  describe('two stores on one Redis', () => {
    async function pair() {
      const a = await openStore({ prefix });
      const b = await openStore({ prefix });
      const heardByA: StoreRemoval[] = [];
      const heardByB: StoreRemoval[] = [];
      a.subscribe((removal) => heardByA.push(removal));
      b.subscribe((removal) => heardByB.push(removal));
      return { a, b, heardByA, heardByB };
    }

    it('tells the other store of a destroy, without the record, and ignores its own message', async () => {
      const { a, heardByA, heardByB } = await pair();
      const key = newKey();
      const record = makeRecord({ userId: 'alice', data: { 's:x': '1' } });
      await a.create(key, record, NO_LIMIT);
      await a.destroy(key);
      await eventually('b to hear of the destroy', () => heardByB.length === 1);
      expect(heardByB).toEqual([{ key, reason: 'destroyed', record: undefined }]);
      // a heard of it once, synchronously and with the record; its own pub/sub message is not a second time.
      expect(heardByA).toEqual([{ key, reason: 'destroyed', record }]);
      await sleep(200);
      expect(heardByA).toHaveLength(1);
      expect(heardByB).toHaveLength(1);
    });

    it('tells the other store of every session closeUser removed', async () => {
      const { a, b, heardByA, heardByB } = await pair();
      const keys = [newKey(), newKey(), newKey()];
      for (const key of keys) await b.create(key, makeRecord({ userId: 'alice' }), NO_LIMIT);
      const closed = await a.closeUser('alice');
      expect(closed.map(([key]) => key).sort()).toEqual([...keys].sort());
      await eventually('b to hear of the three sessions', () => heardByB.length === 3);
      expect(heardByB.map((removal) => removal.key).sort()).toEqual([...keys].sort());
      expect(heardByB.every((removal) => removal.reason === 'destroyed' && removal.record === undefined)).toBe(true);
      expect(heardByA.every((removal) => removal.record?.userId === 'alice')).toBe(true);
      expect(await b.epochOf('alice')).toBe(1);
    });

    it('tells the other store of a session that moved to a new key, with that key', async () => {
      const { a, b, heardByA, heardByB } = await pair();
      const [from, to] = [newKey(), newKey()];
      const record = makeRecord({ userId: 'alice' });
      await a.create(from, record, NO_LIMIT);
      await a.create(to, record, NO_LIMIT);
      await a.destroy(from, to);
      await eventually('b to hear of the move', () => heardByB.length === 1);
      expect(heardByB).toEqual([{ key: from, reason: 'destroyed', record: undefined, movedTo: to }]);
      expect(heardByA).toEqual([{ key: from, reason: 'destroyed', record, movedTo: to }]);
      expect(await b.get(to)).toEqual(record);
    });

    it('keeps the session closeUser keeps on every store, in the index and with its TTLs', async () => {
      const { a, b, heardByB } = await pair();
      const [kept, other] = [newKey(), newKey()];
      for (const key of [kept, other]) await b.create(key, makeRecord({ userId: 'alice', absoluteIn: 2 * HOUR }), NO_LIMIT);
      // b has cached alice's epoch: the kept session must pass its read before and after b hears of the close.
      expect(await b.get(kept)).toBeDefined();
      expect((await a.closeUser('alice', kept)).map(([key]) => key)).toEqual([other]);
      expect((await b.get(kept))?.epoch).toBe(1);
      await eventually('b to hear of the other session', () => heardByB.length === 1);
      expect(heardByB).toEqual([{ key: other, reason: 'destroyed', record: undefined }]);
      expect((await b.get(kept))?.epoch).toBe(1);
      expect((await b.listUser('alice')).map(([key]) => key)).toEqual([kept]);
      const index = `${prefix}{u:alice}:sessions`;
      expect(await admin.zrange(index, '0', '-1')).toEqual([kept]);
      expect(await admin.pttl(index)).toBeGreaterThan(HOUR);
      expect(await admin.pttl(`${prefix}{u:alice}:user`)).toBeGreaterThan(HOUR);
    });

    it('tells the other store of an eviction', async () => {
      const { a, b, heardByA, heardByB } = await pair();
      const [k1, k2] = [newKey(), newKey()];
      await a.create(k1, makeRecord(), { maxAnonymous: 1 });
      await b.create(k2, makeRecord(), { maxAnonymous: 1 });
      // b evicted k1: b has the record, a hears of it from b.
      expect(heardByB).toEqual([{ key: k1, reason: 'evicted', record: expect.objectContaining({ epoch: 0 }) }]);
      await eventually('a to hear of the eviction', () => heardByA.length === 1);
      expect(heardByA).toEqual([{ key: k1, reason: 'evicted', record: undefined }]);
    });

    it('reports an expiry with its record on exactly one store', async () => {
      const { a, b, heardByA, heardByB } = await pair();
      const keys = Array.from({ length: 10 }, () => newKey());
      for (const key of keys) await a.create(key, makeRecord({ userId: 'alice', idleIn: 300, data: { 's:x': '1' } }), NO_LIMIT);
      await sleep(400);
      // Both read every key at once, racing each other and the sweepers.
      const reads = await Promise.all(keys.flatMap((key) => [a.get(key), b.get(key)]));
      expect(reads.every((record) => record === undefined)).toBe(true);
      await eventually('both stores to hear of every expiry', () => heardByA.length === 10 && heardByB.length === 10);
      for (const key of keys) {
        const reports = [...heardByA, ...heardByB].filter((removal) => removal.key === key);
        expect(reports.map((removal) => removal.reason)).toEqual(['expired', 'expired']);
        // One with the record (whose persisted values' onDelete then run), one without.
        expect(reports.filter((removal) => removal.record !== undefined)).toHaveLength(1);
      }
    });

    it('keeps every field of two stores writing one session in parallel', async () => {
      const { a, b } = await pair();
      const key = newKey();
      await a.create(key, makeRecord({ userId: 'alice' }), NO_LIMIT);
      const writes: Array<Promise<boolean>> = [];
      for (let i = 0; i < 200; i++) {
        writes.push(a.setField(key, `s:a${i}`, String(i)), b.setField(key, `s:b${i}`, String(i)));
      }
      expect((await Promise.all(writes)).every(Boolean)).toBe(true);
      const data = (await b.get(key))!.data;
      expect(Object.keys(data)).toHaveLength(400);
      for (let i = 0; i < 200; i++) {
        expect(data[`s:a${i}`]).toBe(String(i));
        expect(data[`s:b${i}`]).toBe(String(i));
      }
    });

    it('refuses, on every store, a session opened with an epoch that closeUser made old', async () => {
      const { a, b, heardByB } = await pair();
      const old = newKey();
      await a.create(old, makeRecord({ userId: 'alice', epoch: 0 }), NO_LIMIT);
      // b caches alice's epoch (0) on this read.
      expect((await b.get(old))?.userId).toBe('alice');
      // Sessions written with epoch 0 that escaped the index (logins racing the close, on another server).
      const writeLate = async () => {
        const late = newKey();
        const record = makeRecord({ userId: 'alice', epoch: 0 });
        await admin.hset(`${prefix}s:${late}`, {
          userId: 'alice',
          epoch: '0',
          createdAt: String(record.createdAt),
          lastSeenAt: String(record.lastSeenAt),
          idleExpiresAt: String(record.idleExpiresAt),
          absoluteExpiresAt: String(record.absoluteExpiresAt),
        });
        await admin.pexpire(`${prefix}s:${late}`, HOUR);
        return late;
      };
      const [lateA, lateB] = [await writeLate(), await writeLate()];
      await a.closeUser('alice');
      expect(await a.get(lateA)).toBeUndefined();
      expect(await admin.exists(`${prefix}s:${lateA}`)).toBe(0);
      // b's cached epoch (0, trusted for up to 30 s) is invalidated by a's message: b refuses its late session too.
      await eventually('b to refuse the late session', async () => (await b.get(lateB)) === undefined, 5_000);
      await eventually('b to report it destroyed', () =>
        heardByB.some((removal) => removal.key === lateB && removal.reason === 'destroyed'),
      );
      expect(await admin.exists(`${prefix}s:${lateB}`)).toBe(0);
      // A session with the new epoch lives.
      const fresh = newKey();
      await b.create(fresh, makeRecord({ userId: 'alice', epoch: await b.epochOf('alice') }), NO_LIMIT);
      expect((await a.get(fresh))?.userId).toBe('alice');
      expect((await b.get(fresh))?.userId).toBe('alice');
    });
  });

  describe('corrupt and hostile records', () => {
    const valid = () => {
      const now = Date.now();
      return {
        userId: 'alice',
        epoch: '0',
        createdAt: String(now),
        lastSeenAt: String(now),
        idleExpiresAt: String(now + HOUR),
        absoluteExpiresAt: String(now + 2 * HOUR),
      } as Record<string, string>;
    };

    const cases: Array<[string, (fields: Record<string, string>) => Record<string, string>]> = [
      ['a __proto__ field', (f) => ({ ...f, ['__proto__']: '{"userId":"root"}' })],
      ['a d:__proto__ data field', (f) => ({ ...f, 'd:__proto__': 'x' })],
      ['a data field outside the scopes', (f) => ({ ...f, 'd:x:y': '1' })],
      ['an unknown field', (f) => ({ ...f, admin: 'true' })],
      ['a constructor field', (f) => ({ ...f, constructor: 'x' })],
      ['a non-numeric timestamp', (f) => ({ ...f, idleExpiresAt: 'soon' })],
      ['a timestamp in exponent form', (f) => ({ ...f, absoluteExpiresAt: '1e20' })],
      ['a blank epoch', (f) => ({ ...f, epoch: '' })],
      ['a negative epoch', (f) => ({ ...f, epoch: '-1' })],
      ['a fractional epoch', (f) => ({ ...f, epoch: '0.5' })],
      ['an empty userId', (f) => ({ ...f, userId: '' })],
      ['a missing createdAt', ({ createdAt: _c, ...f }) => f],
      ['a missing epoch', ({ epoch: _e, ...f }) => f],
      ['a non-numeric authenticatedAt', (f) => ({ ...f, authenticatedAt: 'recently' })],
      ['an empty actorId', (f) => ({ ...f, actorId: '' })],
      ['an actorId without a userId', ({ userId: _u, ...f }) => ({ ...f, actorId: 'root' })],
      ['an actorEpoch without an actorId', (f) => ({ ...f, actorEpoch: '1' })],
      ['a fractional actorEpoch', (f) => ({ ...f, actorId: 'root', actorEpoch: '1.5' })],
      ['a browserSessionCookie other than 1', (f) => ({ ...f, browserSessionCookie: 'true' })],
      ['only data', () => ({ 'd:s:a': '1' })],
    ];

    it.each(cases)('%s reads as no session, without throwing', async (_, corrupt) => {
      const store = await openStore({ prefix });
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      try {
        const key = newKey();
        const fields = corrupt(valid());
        // HSET with explicit pairs (a computed `['__proto__']` key is an own field, which Object.entries keeps).
        const pairs = Object.entries(fields).flat();
        await admin.hset(`${prefix}s:${key}`, ...pairs);
        await admin.pexpire(`${prefix}s:${key}`, HOUR);
        await admin.zadd(`${prefix}{u:alice}:sessions`, Date.now(), key);
        await expect(store.get(key)).resolves.toBeUndefined();
        await expect(store.listUser('alice')).resolves.toEqual([]);
        expect(({} as Record<string, unknown>).userId).toBeUndefined();
        // Logged, never with the key.
        expect(warn).toHaveBeenCalled();
        for (const call of warn.mock.calls) expect(String(call[0])).not.toContain(key);
        // Writes to it are refused or harmless, and it can be destroyed.
        await expect(store.setField(key, 'b:x', '1')).resolves.toEqual(expect.any(Boolean));
        await expect(store.destroy(key)).resolves.toBeUndefined();
      } finally {
        warn.mockRestore();
      }
    });

    it('a key of another type reads as no session', async () => {
      const store = await openStore({ prefix });
      const key = newKey();
      await admin.set(`${prefix}s:${key}`, 'not a hash', 'PX', HOUR);
      await expect(store.get(key)).resolves.toBeUndefined();
      await expect(store.setField(key, 'b:x', '1')).resolves.toBe(false);
      await expect(store.touch(key, Date.now(), Date.now() + HOUR)).resolves.toBe(false);
      await expect(store.destroy(key)).resolves.toBeUndefined();
      expect(await store.create(key, makeRecord(), NO_LIMIT)).toBe(false);
      expect(log.matching('Ignored a session key in Redis that is not a hash')).not.toHaveLength(0);
    });

    it('a corrupt epoch refuses the user’s sessions instead of serving them', async () => {
      const store = await openStore({ prefix });
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      try {
        const key = newKey();
        await store.create(key, makeRecord({ userId: 'alice' }), NO_LIMIT);
        await admin.hset(`${prefix}{u:alice}:user`, 'epoch', 'NaN');
        await expect(store.get(key)).resolves.toBeUndefined();
        await expect(store.epochOf('alice')).rejects.toThrow(/epoch/);
      } finally {
        warn.mockRestore();
      }
    });

    it('ignores hostile pub/sub messages', async () => {
      const store = await openStore({ prefix });
      const heard: StoreRemoval[] = [];
      store.subscribe((removal) => heard.push(removal));
      const channel = `${prefix}removals`;
      for (const message of [
        'not json',
        'null',
        '[]',
        '{"origin":1,"key":"k","reason":"destroyed"}',
        '{"origin":"x","key":"k","reason":"__proto__"}',
        '{"origin":"x","key":5,"reason":"expired"}',
      ]) {
        await admin.publish(channel, message);
      }
      await admin.publish(channel, JSON.stringify({ origin: 'other', key: 'k', reason: 'expired' }));
      // A `movedTo` that names no other key is no move: the removal alone is heard.
      await admin.publish(channel, JSON.stringify({ origin: 'other', key: 'k2', reason: 'destroyed', movedTo: 5 }));
      await admin.publish(channel, JSON.stringify({ origin: 'other', key: 'k3', reason: 'destroyed', movedTo: 'k3' }));
      await eventually('the three valid messages', () => heard.length === 3);
      expect(heard).toEqual([
        { key: 'k', reason: 'expired', record: undefined },
        { key: 'k2', reason: 'destroyed', record: undefined },
        { key: 'k3', reason: 'destroyed', record: undefined },
      ]);
    });
  });
});

describe('RedisStore faults', () => {
  let faulty: RedisServer;
  let faultyAdmin: Redis;
  let prefix: string;
  let store: RedisStore;
  /** The store as the library calls it for a request: `storeTimeout` (1 s here) is the deadline of each call. */
  let calls: TimedStore;
  const record = makeRecord({ userId: 'alice', data: { 's:note': '"kept"' } });
  const key = newKey();

  beforeAll(async () => {
    faulty = await startRedisServer();
    faultyAdmin = adminClient(faulty.url);
  });

  afterAll(async () => {
    faultyAdmin?.disconnect();
    await faulty?.stop();
  });

  beforeEach(async () => {
    prefix = freshPrefix();
    store = new RedisStore({ url: faulty.url, prefix, commandTimeoutMs: 1000 });
    calls = new TimedStore(store, STORE_TIMEOUT_MS);
    await store.open();
    await store.create(key, record, NO_LIMIT);
  });

  afterEach(async () => {
    faulty.resume();
    await store.close();
  });

  /** How long `promise` took to settle, and whether it rejected. */
  async function timed(promise: Promise<unknown>): Promise<{ ms: number; rejected: boolean }> {
    const start = Date.now();
    try {
      await promise;
      return { ms: Date.now() - start, rejected: false };
    } catch {
      return { ms: Date.now() - start, rejected: true };
    }
  }

  it('rejects instead of hanging while Redis is stopped, fails fast after, and recovers on its own', async () => {
    faulty.pause();
    const first = await timed(calls.call('get', key));
    expect(first.rejected).toBe(true);
    // Settles: about the store timeout (1 s), bounded well below a hang.
    expect(first.ms).toBeLessThan(5_000);
    const further = await Promise.all(Array.from({ length: 50 }, () => timed(calls.call('setField', key, 's:x', '1'))));
    expect(further.every((call) => call.rejected)).toBe(true);
    // Failing fast: none of them waited for the timeout.
    expect(Math.max(...further.map((call) => call.ms))).toBeLessThan(500);
    const stillStopped = await timed(calls.call('get', key));
    expect(stillStopped.rejected).toBe(true);

    faulty.resume();
    const resumedAt = Date.now();
    await eventually('the store to answer again', async () => (await calls.call('get', key).catch(() => undefined)) !== undefined);
    const recovery = Date.now() - resumedAt;
    expect(await calls.call('get', key)).toEqual(record);
    expect(await calls.call('setField', key, 's:after', '1')).toBe(true);
    reportMeasurement(
      `RedisStore fault timing: first call ${first.ms} ms, later calls at most ${Math.max(...further.map((c) => c.ms))} ms, recovered ${recovery} ms after SIGCONT`,
    );
  });

  it('has one deadline per call: a call that misses storeTimeout is logged once, and the store then fails fast', async () => {
    const lines: string[] = [];
    const spies = (['error', 'warn', 'log'] as const).map((level) =>
      jest.spyOn(Logger.prototype, level).mockImplementation((message: unknown) => {
        lines.push(String(message));
      }),
    );
    try {
      // A storeTimeout well below the store's commandTimeoutMs (1 s): a timer of the store's own would fire later.
      const shortCalls = new TimedStore(store, 300);
      faulty.pause();
      const first = await timed(shortCalls.call('get', key));
      expect(first.rejected).toBe(true);
      // The store was told: it refuses every call at once, without another timer or log line.
      const direct = await timed(store.get(key));
      expect(direct.rejected).toBe(true);
      expect(direct.ms).toBeLessThan(100);
      await expect(store.setField(key, 's:x', '1')).rejects.toThrow(/failing fast/);
      // Past the store's own commandTimeoutMs: still the one line, from the deadline's owner, naming the call and limit.
      await sleep(1_500);
      const deadlines = lines.filter((line) => /within \d+ ms|deadline|no answer/i.test(line));
      expect(deadlines).toEqual([expect.stringMatching(/\bget\b.*\b300 ms\b/)]);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });

  it('closes without hanging while Redis is stopped', async () => {
    faulty.pause();
    const closing = await timed(store.close());
    expect(closing.rejected).toBe(false);
    expect(closing.ms).toBeLessThan(10_000);
    faulty.resume();
  });

  it('reconnects by itself after Redis was killed and restarted, and reads what SAVE kept', async () => {
    await faultyAdmin.save();
    await faulty.kill();
    const down = await timed(calls.call('get', key));
    expect(down.rejected).toBe(true);
    expect(down.ms).toBeLessThan(5_000);
    await faulty.restart();
    const restartedAt = Date.now();
    await eventually(
      'the store to read the saved session',
      async () => (await store.get(key).catch(() => undefined)) !== undefined,
      15_000,
    );
    reportMeasurement(`RedisStore restart: reading again ${Date.now() - restartedAt} ms after redis-server answered PING`);
    expect(await store.get(key)).toEqual(record);
    // Scripts are loaded again (NOSCRIPT after a restart) and pub/sub resubscribed.
    const other = new RedisStore({ url: faulty.url, prefix });
    await other.open();
    try {
      const heard: StoreRemoval[] = [];
      store.subscribe((removal) => heard.push(removal));
      const gone = newKey();
      await other.create(gone, makeRecord({ userId: 'bob' }), NO_LIMIT);
      await other.destroy(gone);
      await eventually('the restarted store to hear of a destroy', () => heard.some((removal) => removal.key === gone));
    } finally {
      await other.close();
    }
  });
});

/**
 * The contract on a Redis Cluster of three masters on loopback, formed by hand (ADDSLOTSRANGE, MEET) in a second
 * or two. Keys of one user share a slot; sessions and expiry shards spread over the nodes.
 */
describe('RedisStore on a Redis Cluster', () => {
  let cluster: RedisCluster | undefined;
  let nodes: Redis[] = [];

  beforeAll(async () => {
    const started = Date.now();
    cluster = await startRedisCluster(3);
    reportMeasurement(`Redis Cluster of 3 masters formed in ${Date.now() - started} ms`);
    nodes = cluster.nodes.map((node) => adminClient(node.url));
  }, 30_000);

  afterAll(async () => {
    for (const node of nodes) node.disconnect();
    await cluster?.stop();
  });

  const connect = () =>
    new Cluster(
      cluster!.nodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
      { enableOfflineQueue: false, redisOptions: { commandTimeout: 1000, maxRetriesPerRequest: 1 } },
    );

  /** Waits until the cluster client knows the slots (with the offline queue off, it refuses commands before). */
  async function ready(client: Cluster): Promise<void> {
    if (client.status !== 'ready')
      await new Promise<void>((resolve, reject) => {
        client.once('ready', () => resolve());
        client.once('end', () => reject(new Error('cluster client ended')));
      });
  }

  runStoreContract(
    'RedisStore (Cluster)',
    async () => {
      const prefix = freshPrefix();
      const client = connect();
      await ready(client);
      const store = new RedisStore({ client, prefix });
      await store.open();
      return {
        store,
        async cleanup() {
          await store.close();
          client.disconnect();
          for (const node of nodes) await deleteUnder(node, prefix);
        },
      };
    },
    { trimUser: true },
  );

  it('tells the other store of a removal through the cluster’s pub/sub', async () => {
    const prefix = freshPrefix();
    const clients = [connect(), connect()];
    await Promise.all(clients.map(ready));
    const [a, b] = clients.map((client) => new RedisStore({ client, prefix }));
    await a!.open();
    await b!.open();
    try {
      const heard: StoreRemoval[] = [];
      b!.subscribe((removal) => heard.push(removal));
      const key = newKey();
      await a!.create(key, makeRecord({ userId: 'alice' }), NO_LIMIT);
      await a!.closeUser('alice');
      await eventually('b to hear of the close', () => heard.length === 1);
      expect(heard).toEqual([{ key, reason: 'destroyed', record: undefined }]);
    } finally {
      await a!.close();
      await b!.close();
      for (const client of clients) client.disconnect();
      for (const node of nodes) await deleteUnder(node, prefix);
    }
  });

  it('keeps one session through closeUser and tells the other store of a move, on the cluster', async () => {
    const prefix = freshPrefix();
    const clients = [connect(), connect()];
    await Promise.all(clients.map(ready));
    const [a, b] = clients.map((client) => new RedisStore({ client, prefix }));
    await a!.open();
    await b!.open();
    try {
      const heard: StoreRemoval[] = [];
      b!.subscribe((removal) => heard.push(removal));
      // Enough sessions that the kept one and the user's keys are most likely on different nodes.
      const keys = Array.from({ length: 6 }, () => newKey());
      for (const key of keys) await a!.create(key, makeRecord({ userId: 'alice' }), NO_LIMIT);
      const [kept, ...others] = keys as [string, ...string[]];
      expect((await a!.closeUser('alice', kept)).map(([key]) => key).sort()).toEqual([...others].sort());
      expect((await b!.get(kept))?.epoch).toBe(1);
      const moved = newKey();
      await a!.create(moved, makeRecord({ userId: 'alice', epoch: 1 }), NO_LIMIT);
      await a!.destroy(kept, moved);
      await eventually('b to hear of the move', () => heard.some((removal) => removal.key === kept));
      expect(heard.find((removal) => removal.key === kept)).toEqual({ key: kept, reason: 'destroyed', record: undefined, movedTo: moved });
      expect((await b!.listUser('alice')).map(([key]) => key)).toEqual([moved]);
    } finally {
      await a!.close();
      await b!.close();
      for (const client of clients) client.disconnect();
      for (const node of nodes) await deleteUnder(node, prefix);
    }
  });

  it('spreads sessions over the nodes and keeps a user’s keys on one', async () => {
    const prefix = freshPrefix();
    const client = connect();
    await ready(client);
    const store = new RedisStore({ client, prefix });
    await store.open();
    try {
      for (let i = 0; i < 30; i++) await store.create(newKey(), makeRecord({ userId: 'a{b}c' }), NO_LIMIT);
      await store.setUserField('a{b}c', 'prefs', '{}');
      const perNode = await Promise.all(nodes.map((node) => keysUnder(node, prefix)));
      const sessionNodes = perNode.filter((keys) => keys.some((key) => key.startsWith(`${prefix}s:`)));
      expect(sessionNodes.length).toBeGreaterThan(1);
      const userNodes = perNode.filter((keys) => keys.some((key) => key.includes('{u:')));
      expect(userNodes).toHaveLength(1);
      expect(userNodes[0]!.filter((key) => key.includes('{u:')).sort()).toEqual([
        `${prefix}{u:a%007bb%007dc}:sessions`,
        `${prefix}{u:a%007bb%007dc}:user`,
      ]);
      expect(await store.listUser('a{b}c')).toHaveLength(30);
      expect(await store.closeUser('a{b}c')).toHaveLength(30);
    } finally {
      await store.close();
      client.disconnect();
      for (const node of nodes) await deleteUnder(node, prefix);
    }
  });
});
