import type { SessionPolicy } from '../../lib/index.js';
import { ADAPTERS, type AdapterName, type TestApp } from '../support/app.js';
import { Browser } from '../support/browser.js';
import { REDIS_APP_CONTROLLERS } from '../support/redis-apps.js';
import { redisForFile, startOnStore, STORE_KINDS, type StoreKind } from '../support/store-kinds.js';

/**
 * Persisted values are bounded (maxValueBytes, default 64 KiB; maxSessionBytes, default 1 MiB): past a bound, `set()`
 * is a 413 and writes nothing, so one request cannot make every later read of the session heavy.
 * Routes (REDIS_APP_CONTROLLERS): POST /login {user}, GET /me → {user, note}, POST /note {note} (session scope),
 * POST /cart {item} and GET /cart (browser scope).
 */
const redis = redisForFile();

async function start(adapter: AdapterName, store: StoreKind, policy: Partial<SessionPolicy>): Promise<TestApp> {
  return (await startOnStore(store, redis, { adapter, controllers: REDIS_APP_CONTROLLERS, policy })).t;
}

const TOO_LARGE = (limit: string) =>
  expect.objectContaining({ statusCode: 413, code: 'value_too_large', message: expect.stringContaining(limit) });

describe.each(ADAPTERS)('value size limits on %s', (adapter) => {
  describe.each(STORE_KINDS)('with the %s store', (store) => {
    describe('by default', () => {
      let t: TestApp;
      beforeAll(async () => {
        t = await start(adapter, store, {});
      });
      afterAll(() => t?.close());

      it('refuses a value over 64 KiB with 413 and keeps the one before', async () => {
        const b = new Browser(t.url);
        await b.post('/login', { user: `limits-default-${adapter}-${store}` });
        expect((await b.post('/note', { note: 'small' })).status).toBe(201);
        const refused = await b.post('/note', { note: 'x'.repeat(64 * 1024) });
        expect(refused.status).toBe(413);
        expect(refused.body).toEqual(TOO_LARGE('maxValueBytes'));
        expect((await b.get('/me')).body).toEqual({ user: `limits-default-${adapter}-${store}`, note: 'small' });
        // The serialized value is what counts: 64 KiB less the JSON quotes fits.
        expect((await b.post('/note', { note: 'y'.repeat(64 * 1024 - 2) })).status).toBe(201);
      });
    });

    describe('with small limits', () => {
      let t: TestApp;
      beforeAll(async () => {
        t = await start(adapter, store, { maxValueBytes: 1000, maxSessionBytes: 1500 });
      });
      afterAll(() => t?.close());

      it('counts every stored value of the session together, and a value that replaces another counts once', async () => {
        const b = new Browser(t.url);
        expect((await b.post('/cart', { item: 'c'.repeat(700) })).status).toBe(201);
        await b.post('/login', { user: `limits-small-${adapter}-${store}` });
        const refused = await b.post('/note', { note: 'n'.repeat(900) });
        expect(refused.status).toBe(413);
        expect(refused.body).toEqual(TOO_LARGE('maxSessionBytes'));
        expect((await b.get('/me')).body).toEqual({ user: `limits-small-${adapter}-${store}`, note: null });
        expect((await b.get('/cart')).body).toEqual({ cart: 'c'.repeat(700) });
        // Replacing the cart with a smaller one makes room.
        expect((await b.post('/cart', { item: 'small' })).status).toBe(201);
        expect((await b.post('/note', { note: 'n'.repeat(900) })).status).toBe(201);
        expect((await b.post('/cart', { item: 'c'.repeat(700) })).status).toBe(413);
        expect((await b.get('/cart')).body).toEqual({ cart: 'small' });
      });

      it('refuses one value over maxValueBytes before login too, opening no session', async () => {
        const b = new Browser(t.url);
        const refused = await b.post('/cart', { item: 'c'.repeat(1200) });
        expect(refused.status).toBe(413);
        expect(refused.body).toEqual(TOO_LARGE('maxValueBytes'));
        expect(refused.setCookies).toEqual([]);
        expect((await b.get('/cart')).body).toEqual({ cart: null });
      });
    });
  });
});
