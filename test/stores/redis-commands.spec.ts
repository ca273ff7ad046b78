import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { RedisKeys } from '../../lib/stores/redis/redis-keys.js';
import { RedisStore } from '../../lib/stores/redis/redis.store.js';
import type { StoreLimits, StoreRemoval } from '../../lib/stores/session-store.js';
import { ADAPTERS } from '../support/app.js';
import { Browser } from '../support/browser.js';
import { captureNestLogs } from '../support/captured-log.js';
import { reportMeasurement } from '../support/measurement.js';
import { startRedisApp, type RedisApp } from '../support/redis-apps.js';
import { RedisCommandTap, type CommandCost, type TappedCall } from '../support/redis-command-tap.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { makeRecord, newKey } from './store-contract.js';

/**
 * What each operation costs Redis, counted on a real redis-server with MONITOR (which shows the commands a script
 * runs too): the commands the store sends (`sent`: each one round trip unless sent together) and all the commands
 * Redis runs (`run`, what `INFO commandstats` counts). The counts are deterministic, so the tests assert them.
 */

const NO_LIMIT: StoreLimits = { maxAnonymous: Number.MAX_SAFE_INTEGER };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually(what: string, check: () => Promise<boolean>, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

let server: RedisServer;
let tap: RedisCommandTap;
captureNestLogs();

beforeAll(async () => {
  server = await startRedisServer();
  tap = await RedisCommandTap.start(server.url);
});

afterAll(async () => {
  tap?.stop();
  await server?.stop();
});

function freshPrefix(): string {
  return `rc${randomBytes(6).toString('hex')}:`;
}

function report(what: string, cost: CommandCost): void {
  reportMeasurement(`redis commands: ${what}: ${cost.sent} sent, ${cost.run} run by Redis (${cost.detail})`);
}

describe('RedisStore: the commands of each store operation', () => {
  let prefix: string;
  let store: RedisStore;

  beforeEach(async () => {
    prefix = freshPrefix();
    // The costs of the operations themselves: without the near cache, which re-reads a session after a touch.
    store = new RedisStore({ url: server.url, prefix, nearCache: false });
    await store.open();
  });

  afterEach(async () => {
    await store.close();
  });

  const cost = (operation: () => Promise<unknown>) => tap.cost(store, operation);

  it('counts each operation on a connected session', async () => {
    const key = newKey();
    // Another session of the user first: the index and the schedule exist, as they do for most logins.
    await store.create(newKey(), makeRecord({ userId: 'alice' }), NO_LIMIT);
    // (Living a day longer than that one, so that its index's TTL moves later: one PEXPIREAT.)
    const created = await cost(() => store.create(key, makeRecord({ userId: 'alice', absoluteIn: 48 * 3_600_000 }), NO_LIMIT));
    report('create (connected)', created);
    // The user's epoch is read once, then cached.
    await store.get(key);
    const read = await cost(() => store.get(key));
    report('get (known session)', read);
    const written = await cost(async () => expect(await store.setField(key, 's:count', '1')).toBe(true));
    report('setField', written);
    const deleted = await cost(async () => expect(await store.deleteField(key, 's:count')).toBe(true));
    report('deleteField', deleted);
    const now = Date.now();
    const touched = await cost(async () => expect(await store.touch(key, now, now + 3_600_000)).toBe(true));
    report('touch', touched);
    const listed = await cost(() => store.listUser('alice'));
    report('listUser (two sessions)', listed);
    const destroyed = await cost(() => store.destroy(key));
    report('destroy', destroyed);
    const closed = await cost(() => store.closeUser('alice'));
    report('closeUser (one session)', closed);
    const anonymous = await cost(() => store.create(newKey(), makeRecord(), NO_LIMIT));
    report('create (anonymous)', anonymous);

    // Create: the hash, then its index entry and its schedule entry together.
    expect(created.sent).toBe(3);
    // (13 when its schedule entry opens an expiry shard: a shard that exists already takes one command less.)
    expect(created.run).toBeLessThanOrEqual(13);
    // A read is one command at most (none when a cache in the process answers).
    expect(read.sent).toBeLessThanOrEqual(1);
    expect(read.run).toBeLessThanOrEqual(1);
    // A field write, a field delete and a touch: one script each, which reads the times once and writes once.
    for (const [what, cost, commands] of [
      ['setField', written, 3],
      ['deleteField', deleted, 3],
      ['touch', touched, 4],
    ] as const) {
      expect({ what, sent: cost.sent, run: cost.run }).toEqual({ what, sent: 1, run: commands });
    }
    // Listing: the index, then each session's plain HGETALL (and the user's epoch, unless cached).
    expect(listed.calls.filter((call) => call.name === 'hgetall')).toHaveLength(2);
    expect(listed.run).toBeLessThanOrEqual(6);
    // Destroy: the take, then the index entries and the message together.
    expect(destroyed.sent).toBe(4);
    expect(destroyed.run).toBeLessThanOrEqual(6);
  });

  it('writes nothing to a closed session, in one command sent', async () => {
    const key = newKey();
    await store.create(key, makeRecord({ userId: 'alice' }), NO_LIMIT);
    await store.destroy(key);
    const written = await cost(async () => expect(await store.setField(key, 's:late', '1')).toBe(false));
    const touched = await cost(async () => expect(await store.touch(key, Date.now(), Date.now() + 60_000)).toBe(false));
    // The script reads the times, finds none, and writes nothing: the session is not brought back.
    for (const cost of [written, touched]) expect(cost.calls.map((call) => call.inner.map(([name]) => name))).toEqual([['hmget']]);
    expect(await store.get(key)).toBeUndefined();
  });

  it('leaves a key of another type alone in every script, which catches its type instead of asking for it', async () => {
    const admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
    try {
      const heard: StoreRemoval[] = [];
      store.subscribe((removal) => heard.push(removal));
      // A session indexed for alice whose hash someone replaced with a string.
      const key = newKey();
      await store.create(key, makeRecord({ userId: 'alice' }), NO_LIMIT);
      const hash = `${prefix}s:${key}`;
      await admin.set(hash, 'not a hash', 'PX', 3_600_000);
      expect(await store.setField(key, 's:x', '1')).toBe(false);
      expect(await store.deleteField(key, 's:x')).toBe(false);
      expect(await store.touch(key, Date.now(), Date.now() + 60_000)).toBe(false);
      expect(await store.closeUser('alice')).toEqual([]);
      // Listed: the entry, back in the index, is dropped as stale.
      const index = `${prefix}{u:alice}:sessions`;
      await admin.zadd(index, '1', key);
      expect(await store.listUser('alice')).toEqual([]);
      expect(await admin.zscore(index, key)).toBeNull();
      expect(await store.destroy(key)).toBeUndefined();
      // Due on the expiry schedule: the sweeper claims the entry and takes nothing.
      const shard = new RedisKeys(prefix).expiryShardOf(key);
      await admin.zadd(shard, String(Date.now() - 1), key);
      await eventually('the sweeper to claim the entry', async () => (await admin.zscore(shard, key)) === null);
      expect(await admin.get(hash)).toBe('not a hash');
      expect(heard).toEqual([]);
    } finally {
      admin.disconnect();
    }
  });
});

/** The calls of a request that are its touch (the script that writes lastSeenAt), and the others. */
function split(calls: TappedCall[]): { touches: TappedCall[]; others: TappedCall[] } {
  const isTouch = (call: TappedCall) => call.inner.some(([name, , ...rest]) => name === 'hset' && rest.includes('lastSeenAt'));
  return { touches: calls.filter(isTouch), others: calls.filter((call) => !isTouch(call)) };
}

describe.each(ADAPTERS)('RedisStore: the commands of each request (%s)', (adapter) => {
  let prefix: string;
  let app: RedisApp;

  beforeAll(async () => {
    prefix = freshPrefix();
    // A one-minute idle timeout is touched every second (touchIntervalMs), so a test can wait for a touch.
    app = await startRedisApp({ adapter, redisUrl: server.url, prefix, policy: { idleTimeout: 60 } });
  });

  afterAll(async () => {
    await app?.t.close();
  });

  it('counts a login, a guarded read, a field write, a touch and a logout', async () => {
    const cost = (operation: () => Promise<unknown>) => tap.cost(app.store, operation);
    const browser = new Browser(app.t.url);
    const login = await cost(async () => expect((await browser.post('/login', { user: `u-${adapter}` })).status).toBe(201));
    report(`${adapter} POST /login`, login);
    const read = await cost(async () => expect((await browser.get('/me')).status).toBe(200));
    report(`${adapter} GET /me (guarded read)`, read);
    const write = await cost(async () => expect((await browser.post('/note', { note: 'n' })).status).toBe(201));
    report(`${adapter} POST /note (field write)`, write);
    // Past the touch interval (a second, for this idle timeout), the next read records activity.
    await sleep(1_100);
    const touched = await cost(async () => expect((await browser.get('/me')).status).toBe(200));
    report(`${adapter} GET /me after a second (guarded read and touch)`, touched);
    const logout = await cost(async () => expect((await browser.post('/logout')).status).toBe(201));
    report(`${adapter} POST /logout`, logout);

    // A guarded read is its session's HGETALL at most; a field write adds one script of three commands; a read
    // past the touch interval adds one touch script of four, and the near cache's HGETALL re-read of the touched
    // session, off the request path. (Any request may also touch: split those off.)
    const reads = split(read.calls).others;
    expect(reads.filter((call) => call.name !== 'hgetall')).toEqual([]);
    expect(reads.length).toBeLessThanOrEqual(1);
    const writes = split(write.calls).others.filter((call) => call.inner.length > 0);
    expect(writes.map((call) => call.inner.map(([name]) => name))).toEqual([['hmget', 'hset']]);
    expect(split(write.calls).others.length).toBeLessThanOrEqual(2);
    const touches = split(touched.calls).touches;
    expect(touches.map((call) => call.inner.map(([name]) => name))).toEqual([['hmget', 'hset', 'pexpireat']]);
    expect(split(touched.calls).others.filter((call) => call.name !== 'hgetall')).toEqual([]);
    expect(split(touched.calls).others.length).toBeLessThanOrEqual(2);
  });
});
