import type { SessionStore, StoreRemoval } from '../../lib/index.js';
import type { TestApp } from '../support/app.js';
import { Browser } from '../support/browser.js';
import { CartController } from '../support/cart.controller.js';
import { storeKeyOfBrowser } from '../support/redis-apps.js';
import { ADAPTER_STORE_CASES, redisForFile, startOnStore } from '../support/store-kinds.js';

/**
 * A flood of anonymous sessions from one client address (unauthenticated `POST /cart`) over real HTTP, on Express
 * and Fastify behind a trusted proxy (the address comes from X-Forwarded-For), on a MemoryStore and on a real Redis.
 * The flood evicts the flooding address's own oldest sessions, never another visitor's cart.
 *
 * The bounds are small so that the test is quick: 5 sessions per address, 20 anonymous sessions in all; the flood
 * sends 40, so that one oldest-first queue over every address would push the other visitors out.
 */

const PER_ADDRESS = 5;
const ALL = 20;
const FLOOD = 40;
const FLOODER = '203.0.113.9';

const redis = redisForFile();

describe.each(ADAPTER_STORE_CASES)('an anonymous flood from one address on %s with a %s store', (adapter, kind) => {
  let t: TestApp;
  let store: SessionStore;
  const removals: StoreRemoval[] = [];

  beforeAll(async () => {
    const policy = { anonymous: { maxPerAddress: PER_ADDRESS, maxSessions: ALL } };
    ({ t, store } = await startOnStore(kind, redis, { adapter, controllers: [CartController], policy, trustProxy: true }));
    store.subscribe((removal) => removals.push(removal));
  });

  afterAll(() => t?.close());

  /** A browser whose requests come, as the proxy says, from `address`. */
  const browserAt = (address: string) => new Browser(t.url, { 'x-forwarded-for': address });

  it(`keeps the other visitors’ carts and the flooder’s ${PER_ADDRESS} newest; the flooder’s older ones are evicted`, async () => {
    const visitor = browserAt('198.51.100.7');
    expect((await visitor.post('/cart', { item: 'visitor-pear' })).status).toBe(201);
    const neighbours = [browserAt('198.51.100.8'), browserAt('198.51.100.8')];
    for (const [i, neighbour] of neighbours.entries()) expect((await neighbour.post('/cart', { item: `neighbour-${i}` })).status).toBe(201);

    const flood = Array.from({ length: FLOOD }, () => browserAt(FLOODER));
    // One after the other, so that "oldest" is the order of the requests.
    for (const [i, browser] of flood.entries()) expect((await browser.post('/cart', { item: `flood-${i}` })).status).toBe(201);
    const floodKeys = flood.map((browser) => storeKeyOfBrowser(browser));

    expect((await visitor.get('/cart')).body).toEqual({ cart: 'visitor-pear' });
    for (const [i, neighbour] of neighbours.entries()) expect((await neighbour.get('/cart')).body).toEqual({ cart: `neighbour-${i}` });
    const carts = await Promise.all(flood.map(async (browser) => ((await browser.get('/cart')).body as { cart: string | null }).cart));
    const kept = Array.from({ length: FLOOD }, (_, i) => (i < FLOOD - PER_ADDRESS ? null : `flood-${i}`));
    expect(carts).toEqual(kept);

    // The store reported each of the flooder's older sessions as evicted, and nothing else.
    const evicted = removals.filter((removal) => removal.reason === 'evicted');
    expect(evicted.map((removal) => removal.key).sort()).toEqual(floodKeys.slice(0, FLOOD - PER_ADDRESS).sort());
    expect(evicted.every((removal) => removal.record?.ip === FLOODER)).toBe(true);
  });

  it('still bounds all anonymous sessions together: many addresses push out the oldest of all', async () => {
    const first = browserAt('192.0.2.200');
    expect((await first.post('/cart', { item: 'first' })).status).toBe(201);
    const key = storeKeyOfBrowser(first);
    // One session from each of ALL more addresses: within every address's bound, past the bound of all.
    for (let i = 0; i < ALL; i++) expect((await browserAt(`192.0.2.${i + 1}`).post('/cart', { item: `many-${i}` })).status).toBe(201);
    expect((await first.get('/cart')).body).toEqual({ cart: null });
    expect(removals.some((removal) => removal.key === key && removal.reason === 'evicted')).toBe(true);
  });
});
