import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { RedisKeys } from '../../lib/stores/redis/redis-keys.js';
import { RedisStore } from '../../lib/stores/redis/redis.store.js';
import { expiresAt } from '../../lib/stores/session-record.js';
import type { StoreLimits, StoreRemoval } from '../../lib/stores/session-store.js';
import { captureNestLogs } from '../support/captured-log.js';
import { RedisCommandTap } from '../support/redis-command-tap.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { makeRecord, newKey } from './store-contract.js';

/**
 * The expiry schedule under touches. A touch is one round trip and leaves the session's entry where it is when the
 * expiry moves later (the usual case): the sweeper, finding the session not due at that entry, puts it back at its
 * real expiry. A touch that moves the expiry earlier moves the entry itself. Either way each expiry is reported,
 * with its record, once the session is really due, and never before.
 */

const NO_LIMIT: StoreLimits = { maxAnonymous: Number.MAX_SAFE_INTEGER };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually(what: string, check: () => boolean | Promise<boolean>, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

let server: RedisServer;
let admin: Redis;
let tap: RedisCommandTap;
captureNestLogs();

beforeAll(async () => {
  server = await startRedisServer();
  admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
  tap = await RedisCommandTap.start(server.url);
});

afterAll(async () => {
  tap?.stop();
  admin?.disconnect();
  await server?.stop();
});

describe('RedisStore: the expiry schedule under touches', () => {
  let prefix: string;
  let store: RedisStore;
  let heard: StoreRemoval[];

  beforeEach(async () => {
    prefix = `sc${randomBytes(6).toString('hex')}:`;
    // The schedule's own commands: without the near cache, which re-reads a session after a touch.
    store = new RedisStore({ url: server.url, prefix, nearCache: false });
    await store.open();
    heard = [];
    store.subscribe((removal) => heard.push(removal));
  });

  afterEach(async () => {
    await store.close();
  });

  const entry = async (key: string) => Number(await admin.zscore(new RedisKeys(prefix).expiryShardOf(key), key));

  it('leaves the entry of a session touched later; the sweeper puts it back, and reports the expiry when due', async () => {
    const key = newKey();
    const record = makeRecord({ userId: 'alice', idleIn: 1_000, data: { 's:a': '1' } });
    await store.create(key, record, NO_LIMIT);
    expect(await entry(key)).toBe(expiresAt(record));

    const touchedAt = Date.now();
    const later = touchedAt + 4_000;
    const cost = await tap.cost(store, async () => expect(await store.touch(key, touchedAt, later)).toBe(true));
    expect(cost.sent).toBe(1);
    expect(await entry(key)).toBe(expiresAt(record));

    // Past the first entry, the sweeper finds the session live and moves its entry to the touched expiry: it reads
    // the session's times (not its whole hash) and schedules it again.
    const swept = await tap.cost(store, () => eventually('the sweeper to move the entry', async () => (await entry(key)) === later));
    const [taken, scheduled] = swept.calls.map((call) => call.inner.map(([name]) => name));
    expect(taken).toEqual(['hmget']);
    expect(scheduled?.[0]).toBe('zadd');
    expect(heard).toEqual([]);

    await eventually('the expiry to be reported', () => heard.length === 1);
    expect(heard[0]).toMatchObject({ key, reason: 'expired', record: { userId: 'alice', data: { 's:a': '1' } } });
    expect(Date.now()).toBeGreaterThanOrEqual(later);
    expect(await admin.exists(`${prefix}s:${key}`)).toBe(0);
  });

  it('moves the entry of a session whose touch makes it expire earlier', async () => {
    const key = newKey();
    await store.create(key, makeRecord({ idleIn: 3_600_000 }), NO_LIMIT);
    const touchedAt = Date.now();
    const earlier = touchedAt + 1_000;
    const cost = await tap.cost(store, async () => expect(await store.touch(key, touchedAt, earlier)).toBe(true));
    // The touch, then the move of the entry.
    expect(cost.sent).toBe(2);
    expect(await entry(key)).toBe(earlier);
    await eventually('the expiry to be reported', () => heard.length === 1);
    expect(heard[0]).toMatchObject({ key, reason: 'expired' });
    expect(Date.now()).toBeGreaterThanOrEqual(earlier);
  });

  it('never moves an entry later by scheduling again, and keeps the shard as long as its sessions can live', async () => {
    const key = newKey();
    const record = makeRecord({ idleIn: 60_000, absoluteIn: 7_200_000 });
    await store.create(key, record, NO_LIMIT);
    const shard = new RedisKeys(prefix).expiryShardOf(key);
    const ttl = await admin.pexpiretime(shard);
    // The session can live until its absolute expiry: so can the shard (plus the grace).
    expect(ttl).toBeGreaterThan(record.absoluteExpiresAt);
    // A session touched many times keeps its first entry and costs one command sent per touch.
    for (let i = 1; i <= 5; i++) {
      const at = Date.now();
      const cost = await tap.cost(store, () => store.touch(key, at, at + 60_000 + i * 1_000));
      expect(cost.sent).toBe(1);
    }
    expect(await entry(key)).toBe(expiresAt(record));
    expect(await admin.pexpiretime(shard)).toBe(ttl);
  });
});
