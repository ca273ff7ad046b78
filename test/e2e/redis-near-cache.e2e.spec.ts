import type { Redis } from 'ioredis';
import { ADAPTERS, type AdapterName } from '../support/app.js';
import { Browser } from '../support/browser.js';
import { reportMeasurement } from '../support/measurement.js';
import { commandsOf, eventually } from '../support/near-cache-fixture.js';
import { adminClient, freshPrefix, sameBrowserOn, startRedisApp, storeKeyOfBrowser, type RedisApp } from '../support/redis-apps.js';
import { sleep } from '../support/lifecycle-helpers.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

/**
 * The near cache under real applications: two servers of one adapter on one redis-server, each with its own
 * RedisStore (near cache on, as by default). A guarded request for a known session sends Redis nothing; what one
 * server writes or closes, the other drops; what a server closes itself, it never serves again.
 */

let server: RedisServer;
let admin: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  admin = adminClient(server.url);
});

afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

describe.each(ADAPTERS)('the Redis near cache under two apps on %s', (adapter: AdapterName) => {
  let a: RedisApp;
  let b: RedisApp;
  let users = 0;

  beforeAll(async () => {
    const prefix = freshPrefix();
    // A one-minute idle timeout is touched every second (touchIntervalMs), so a test can wait for a touch.
    const policy = { idleTimeout: 60 };
    a = await startRedisApp({ adapter, redisUrl: server.url, prefix, policy });
    b = await startRedisApp({ adapter, redisUrl: server.url, prefix, policy });
  });

  afterAll(async () => {
    await a?.t.close();
    await b?.t.close();
  });

  async function login(): Promise<{ onA: Browser; onB: Browser; user: string }> {
    const user = `near-${adapter}-${++users}`;
    const onA = new Browser(a.t.url);
    expect((await onA.post('/login', { user })).status).toBe(201);
    return { onA, onB: sameBrowserOn(onA, b.t.url), user };
  }

  it('answers a guarded request for a known session without a Redis command, on either server', async () => {
    const { onA, onB, user } = await login();
    // The first read on each server fills its cache (and its user-epoch cache).
    expect((await onA.get('/me')).body).toEqual({ user, note: null });
    expect((await onB.get('/me')).body).toEqual({ user, note: null });
    const sent = await commandsOf([admin], async () => {
      for (let i = 0; i < 10; i++) {
        expect((await onA.get('/me')).body).toEqual({ user, note: null });
        expect((await onB.get('/me')).body).toEqual({ user, note: null });
      }
    });
    expect(sent).toEqual({});
  });

  it('after the touch a request a second later causes, the next request still sends nothing', async () => {
    const { onA, user } = await login();
    expect((await onA.get('/me')).body).toEqual({ user, note: null });
    const key = storeKeyOfBrowser(onA);
    const before = a.store.cached(key)!.lastSeenAt;
    await sleep(1_100);
    // Served from the copy; its lastSeenAt being a second old, the request touches the session.
    expect((await onA.get('/me')).body).toEqual({ user, note: null });
    await eventually('the touched session to be read again', () => (a.store.cached(key)?.lastSeenAt ?? before) > before, 5_000);
    expect(await commandsOf([admin], async () => expect((await onA.get('/me')).body).toEqual({ user, note: null }))).toEqual({});
  });

  it('shows a write of one server on the other, and at once on the writer', async () => {
    const { onA, onB, user } = await login();
    expect((await onB.get('/me')).body).toEqual({ user, note: null });
    expect((await onA.get('/me')).body).toEqual({ user, note: null });
    const written = Date.now();
    expect((await onA.post('/note', { note: 'from A' })).status).toBe(201);
    expect((await onA.get('/me')).body).toEqual({ user, note: 'from A' });
    await eventually('server B to show the note', async () => (await onB.get('/me')).body.note === 'from A', 5_000);
    reportMeasurement(`near cache [${adapter}]: a note written on A read back on B ${Date.now() - written} ms after the write began`);
  });

  it('never serves a session the same server closed; the other server drops it too', async () => {
    const { onA, onB, user } = await login();
    expect((await onA.get('/me')).body).toEqual({ user, note: null });
    expect((await onB.get('/me')).body).toEqual({ user, note: null });
    const stale = onB.cookieHeader();
    expect((await onB.post('/logout')).status).toBe(201);
    const again = new Browser(b.t.url);
    again.jar.set('sid', /sid=([^;]+)/.exec(stale)![1]!);
    expect((await again.get('/me')).status).toBe(401);
    await eventually('server A to drop the session', async () => (await onA.get('/me')).status === 401, 5_000);
  });
});
