import { ADAPTERS, type TestApp } from '../support/app.js';
import { Browser } from '../support/browser.js';
import { REDIS_APP_CONTROLLERS } from '../support/redis-apps.js';
import { redisForFile, startOnStore, STORE_KINDS } from '../support/store-kinds.js';

/**
 * "Log out everywhere" (`disconnectAll()` with its default, `userIndep: true`, as Os_session's `disconnect_all`)
 * closes every browser of the user entirely: a copy of a closed browser's cookie (a thief's) reads and writes
 * nothing of it, and nothing the thief writes reaches the victim's next login.
 */
const redis = redisForFile();

describe.each(ADAPTERS)('disconnectAll by default on %s', (adapter) => {
  describe.each(STORE_KINDS)('with the %s store', (store) => {
    let t: TestApp;
    beforeAll(async () => {
      ({ t } = await startOnStore(store, redis, { adapter, controllers: REDIS_APP_CONTROLLERS }));
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
