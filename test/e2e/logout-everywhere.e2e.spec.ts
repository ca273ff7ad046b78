import { ADAPTERS, startApp, type AdapterName, type TestApp } from '../support/app.js';
import { Browser } from '../support/browser.js';
import { freshPrefix, REDIS_APP_CONTROLLERS, startRedisApp } from '../support/redis-apps.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

/**
 * "Log out everywhere" (`disconnectAll()` with its default, `userIndep: true`, as Os_session's `disconnect_all`)
 * closes every browser of the user entirely: a copy of a closed browser's cookie (a thief's) reads and writes
 * nothing of it, and nothing the thief writes reaches the victim's next login.
 */
let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedisServer();
});

afterAll(async () => {
  await redis?.stop();
});

const STORES = ['memory', 'redis'] as const;

async function start(adapter: AdapterName, store: (typeof STORES)[number]): Promise<TestApp> {
  if (store === 'redis') return (await startRedisApp({ adapter, redisUrl: redis.url, prefix: freshPrefix() })).t;
  return startApp({ adapter, controllers: REDIS_APP_CONTROLLERS });
}

describe.each(ADAPTERS)('disconnectAll by default on %s', (adapter) => {
  describe.each(STORES)('with the %s store', (store) => {
    let t: TestApp;
    beforeAll(async () => {
      t = await start(adapter, store);
    });
    afterAll(() => t?.close());

    it("leaves a stolen cookie of a closed browser nothing: no browser data, no way into the victim's next login", async () => {
      const user = `everywhere-${adapter}-${store}`;
      const victim = new Browser(t.url);
      expect((await victim.post('/cart', { item: 'ring' })).status).toBe(201);
      expect((await victim.post('/login', { user })).status).toBe(201);
      const thief = new Browser(t.url);
      for (const [name, value] of victim.jar) thief.jar.set(name, value);
      expect((await thief.get('/cart')).body).toEqual({ cart: 'ring' });

      const other = new Browser(t.url);
      await other.post('/login', { user });
      expect((await other.post('/disconnect-all')).body).toEqual({ closed: 2 });

      // The closed browser's cookie opens nothing: no cart, and a write goes to a new anonymous session of its own.
      expect((await thief.get('/cart')).body).toEqual({ cart: null });
      expect((await thief.post('/cart', { item: 'planted' })).status).toBe(201);
      expect((await victim.get('/cart')).body).toEqual({ cart: null });
      expect((await victim.post('/login', { user })).status).toBe(201);
      expect((await victim.get('/cart')).body).toEqual({ cart: null });
    });

    it('keeps each browser its data with userIndep: false, the explicit choice', async () => {
      const user = `everywhere-kept-${adapter}-${store}`;
      const b = new Browser(t.url);
      await b.post('/cart', { item: 'tea' });
      await b.post('/login', { user });
      expect((await b.post('/disconnect-user-kept', { user })).status).toBe(201);
      expect((await b.get('/public')).body).toEqual({ user: null });
      expect((await b.get('/cart')).body).toEqual({ cart: 'tea' });
    });
  });
});
