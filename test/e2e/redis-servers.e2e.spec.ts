import type { Redis } from 'ioredis';
import type { SessionInfo } from '../../lib/index.js';
import { EXPIRY_GRACE_MS, USER_FLOOR_MS } from '../../lib/stores/redis/redis-ttl.js';
import { Browser } from '../support/browser.js';
import { waitUntil } from '../support/lifecycle-helpers.js';
import {
  adminClient,
  endWithin,
  freshPrefix,
  keysUnder,
  sameBrowserOn,
  startRedisApp,
  storeKeyOfBrowser,
  ttlsUnder,
  type RedisApp,
} from '../support/redis-apps.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { openSocket, type SocketKind, type TestSocket } from '../support/sockets.js';
import { reportMeasurement } from '../support/measurement.js';

/**
 * Two application servers, one Express and one Fastify, each with its own RedisStore (own connections, own epoch
 * cache, own sweeper) on one real redis-server: what one server does to a session, the other sees.
 *
 * Each pairing puts one socket kind on each server, and the other way round, so that every kind is closed from the
 * other server on both adapters.
 */

/** "Within about a second and a half": how soon the other server closes the sockets of a closed session. */
const CLOSE_WITHIN_MS = 1500;

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

let users = 0;
/** A user id no other test uses (disconnectAll closes every session of a user, on every server). */
const newUser = (name: string) => `${name}-${++users}`;

const PAIRINGS: Array<[SocketKind, SocketKind]> = [
  ['socket.io', 'ws'],
  ['ws', 'socket.io'],
];

describe.each(PAIRINGS)('an Express server (%s) and a Fastify server (%s) on one Redis', (kindOne, kindTwo) => {
  let prefix: string;
  /** Express, with `kindOne` sockets. */
  let one: RedisApp;
  /** Fastify, with `kindTwo` sockets. */
  let two: RedisApp;
  const opened: TestSocket[] = [];

  beforeAll(async () => {
    prefix = freshPrefix();
    one = await startRedisApp({ adapter: 'express', redisUrl: server.url, prefix, sockets: kindOne });
    two = await startRedisApp({ adapter: 'fastify', redisUrl: server.url, prefix, sockets: kindTwo });
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((socket) => socket.close()));
  });

  afterAll(async () => {
    await one?.t.close();
    await two?.t.close();
  });

  async function login(app: RedisApp, user: string): Promise<Browser> {
    const browser = new Browser(app.t.url);
    const reply = await browser.post('/login', { user });
    expect(reply.status).toBe(201);
    expect(browser.jar.get('sid')).toBeDefined();
    return browser;
  }

  /** A socket to `app` on the browser's session, checked to answer as `user`. */
  async function socketOn(app: RedisApp, browser: Browser, user: string): Promise<TestSocket> {
    const socket = await openSocket(app.sockets!, app.t.url, { cookie: browser.cookieHeader() });
    opened.push(socket);
    expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user } });
    return socket;
  }

  /** The socket is closed by the server within {@link CLOSE_WITHIN_MS}, as a closed session's socket is. */
  async function expectClosedSoon(socket: TestSocket, what: string): Promise<number> {
    const start = Date.now();
    const ended = await endWithin(socket, CLOSE_WITHIN_MS);
    const ms = Date.now() - start;
    expect({ what, reason: ended.reason }).toEqual({ what, reason: 'session_closed' });
    if (socket.kind === 'ws') expect({ what, code: ended.code }).toEqual({ what, code: 4401 });
    expect(socket.isOpen).toBe(false);
    return ms;
  }

  async function expectServing(socket: TestSocket, user: string): Promise<void> {
    expect(socket.isOpen).toBe(true);
    expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user } });
  }

  it('a login on one server is a session on the other, in both directions, over HTTP and sockets', async () => {
    const ann = newUser('ann');
    const onOne = await login(one, ann);
    const onTwo = sameBrowserOn(onOne, two.t.url);
    const me = await onTwo.get('/me');
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ user: ann, note: null });
    expect((await onTwo.get('/public')).body).toEqual({ user: ann });
    await socketOn(two, onOne, ann);

    const bob = newUser('bob');
    const bobOnTwo = await login(two, bob);
    const bobOnOne = sameBrowserOn(bobOnTwo, one.t.url);
    expect((await bobOnOne.get('/me')).body).toEqual({ user: bob, note: null });
    await socketOn(one, bobOnTwo, bob);
    // Each server lists the user's sessions from Redis, whichever server opened them.
    const listed = (await bobOnOne.get('/sessions')).body as SessionInfo[];
    expect(listed.map((session) => [session.userId, session.current])).toEqual([[bob, true]]);
    expect(listed[0]!.handle).toBe(storeKeyOfBrowser(bobOnTwo));
    // Without the cookie, neither server knows anyone.
    expect((await new Browser(one.t.url).get('/me')).status).toBe(401);
    expect((await new Browser(two.t.url).get('/me')).status).toBe(401);
  });

  it('persisted data written on one server is read on the other', async () => {
    const ann = newUser('ann');
    const onOne = await login(one, ann);
    const onTwo = sameBrowserOn(onOne, two.t.url);
    expect((await onOne.post('/note', { note: 'written by express' })).status).toBe(201);
    expect((await onTwo.get('/me')).body).toEqual({ user: ann, note: 'written by express' });
    expect((await onTwo.post('/cart', { item: 'written by fastify' })).status).toBe(201);
    expect((await onOne.get('/cart')).body).toEqual({ cart: 'written by fastify' });
    // Overwritten on the other server: the first reads the new value, not a copy of its own.
    expect((await onTwo.post('/note', { note: 'rewritten by fastify' })).status).toBe(201);
    expect((await onOne.get('/me')).body).toEqual({ user: ann, note: 'rewritten by fastify' });
    // And through the sockets of both servers (the gateway's own persisted key).
    const socketTwo = await socketOn(two, onOne, ann);
    expect(await socketTwo.request('set-note', { note: 'from a socket' })).toEqual({ event: 'set-note', data: { ok: true } });
    const socketOne = await socketOn(one, onOne, ann);
    expect(await socketOne.request('note')).toEqual({ event: 'note', data: { note: 'from a socket' } });
  });

  it('parallel writes of different persisted keys to one session on the two servers all survive', async () => {
    const ann = newUser('ann');
    const onOne = await login(one, ann);
    const onTwo = sameBrowserOn(onOne, two.t.url);
    const ROUNDS = 100;
    const started = Date.now();
    for (let i = 0; i < ROUNDS; i++) {
      // Key A (the note, session scope) on Express and key B (the cart, browser scope) on Fastify, at once.
      const [a, b] = await Promise.all([onOne.post('/note', { note: `note ${i}` }), onTwo.post('/cart', { item: `cart ${i}` })]);
      expect({ i, a: a.status, b: b.status }).toEqual({ i, a: 201, b: 201 });
      // Both survive, read crosswise and on the writer.
      const [me, cart, meOne, cartTwo] = await Promise.all([onTwo.get('/me'), onOne.get('/cart'), onOne.get('/me'), onTwo.get('/cart')]);
      expect({ i, me: me.body, cart: cart.body }).toEqual({ i, me: { user: ann, note: `note ${i}` }, cart: { cart: `cart ${i}` } });
      expect({ i, me: meOne.body, cart: cartTwo.body }).toEqual({ i, me: { user: ann, note: `note ${i}` }, cart: { cart: `cart ${i}` } });
    }
    // The cookie never changed (no write opened a session of its own).
    expect(onOne.jar.get('sid')).toBe(onTwo.jar.get('sid'));
    reportMeasurement(
      `redis-servers [${kindOne}/${kindTwo}]: ${ROUNDS} rounds of parallel writes on two servers in ${Date.now() - started} ms`,
    );
  });

  it('a logout on one server: the cookie is refused on the other, and its sockets there close', async () => {
    const ann = newUser('ann');
    const onOne = await login(one, ann);
    const onTwo = sameBrowserOn(onOne, two.t.url);
    const cookie = onOne.cookieHeader();
    const socketTwo = await socketOn(two, onOne, ann);
    expect((await onTwo.get('/me')).status).toBe(200);

    expect((await onOne.post('/logout')).status).toBe(201);
    expect(onOne.jar.get('sid')).toBeUndefined();
    const refused = await onTwo.get('/me');
    expect(refused.status).toBe(401);
    // The failed check expires the cookie there too.
    expect(onTwo.jar.get('sid')).toBeUndefined();
    await expectClosedSoon(socketTwo, 'socket on the other server');
    await expect(openSocket(two.sockets!, two.t.url, { cookie })).rejects.toMatchObject({ code: 'unauthenticated' });
    expect((await new Browser(one.t.url).get('/me', { cookie })).status).toBe(401);

    // The other way round: a logout on Fastify ends the session on Express.
    const bob = newUser('bob');
    const bobOnTwo = await login(two, bob);
    const bobOnOne = sameBrowserOn(bobOnTwo, one.t.url);
    const socketOne = await socketOn(one, bobOnTwo, bob);
    expect((await bobOnTwo.post('/logout')).status).toBe(201);
    expect((await bobOnOne.get('/me')).status).toBe(401);
    await expectClosedSoon(socketOne, 'socket on the first server');
  });

  it('disconnectAll on one server closes the sessions and the sockets opened on the other', async () => {
    const ann = newUser('ann');
    const bob = newUser('bob');
    // Two browsers of ann on Fastify, each with a socket there; a third on Express with a socket on each server.
    const p = await login(two, ann);
    const q = await login(two, ann);
    const r = await login(one, ann);
    const socketP = await socketOn(two, p, ann);
    const socketQ = await socketOn(two, q, ann);
    const socketROnTwo = await socketOn(two, r, ann);
    const socketROnOne = await socketOn(one, r, ann);
    // Another user, on both servers: untouched.
    const b = await login(two, bob);
    const socketB = await socketOn(two, b, bob);
    const socketBOnOne = await socketOn(one, b, bob);

    const start = Date.now();
    const reply = await r.post('/disconnect-all');
    expect(reply.status).toBe(201);
    expect(reply.body).toEqual({ closed: 3 });
    const closedIn = await Promise.all([
      expectClosedSoon(socketP, 'P on the other server'),
      expectClosedSoon(socketQ, 'Q on the other server'),
      expectClosedSoon(socketROnTwo, 'R on the other server'),
      expectClosedSoon(socketROnOne, 'R on this server'),
    ]);
    const afterReply = Date.now() - start;
    for (const browser of [p, q]) expect((await browser.get('/me')).status).toBe(401);
    expect((await sameBrowserOn(r, two.t.url).get('/me')).status).toBe(401);
    expect((await r.get('/me')).status).toBe(401);
    await expectServing(socketB, bob);
    await expectServing(socketBOnOne, bob);
    expect((await b.get('/me')).body).toEqual({ user: bob, note: null });

    // And from Fastify (an admin's disconnectAll({ userId })) to the sockets on Express.
    const carol = newUser('carol');
    const c1 = await login(one, carol);
    const c2 = await login(one, carol);
    const socketC1 = await socketOn(one, c1, carol);
    const socketC2 = await socketOn(one, c2, carol);
    const back = Date.now();
    expect((await new Browser(two.t.url).post('/disconnect-user', { user: carol })).body).toEqual({ closed: 2 });
    const closedBack = await Promise.all([expectClosedSoon(socketC1, 'C1 on Express'), expectClosedSoon(socketC2, 'C2 on Express')]);
    expect((await c1.get('/me')).status).toBe(401);
    expect((await c2.get('/me')).status).toBe(401);
    await expectServing(socketBOnOne, bob);
    reportMeasurement(
      `redis-servers [${kindOne}/${kindTwo}]: disconnectAll on Express closed the Fastify ${kindTwo} sockets ` +
        `${Math.max(...closedIn.slice(0, 3))} ms after its reply (${afterReply} ms from the request); ` +
        `disconnectAll on Fastify closed the Express ${kindOne} sockets ${Math.max(...closedBack)} ms after its reply (${Date.now() - back} ms from the request)`,
    );
  });

  it('revoke on one server closes that session’s socket on the other, and only that one', async () => {
    const ann = newUser('ann');
    const a = await login(one, ann);
    const b = await login(one, ann);
    const socketA = await socketOn(two, a, ann);
    const socketB = await socketOn(two, b, ann);
    const listed = (await a.get('/sessions')).body as SessionInfo[];
    const target = storeKeyOfBrowser(b);
    expect(listed.map((session) => session.handle).sort()).toEqual([storeKeyOfBrowser(a), target].sort());

    expect((await a.post('/revoke', { handle: target })).status).toBe(201);
    await expectClosedSoon(socketB, 'the revoked session’s socket on the other server');
    expect((await sameBrowserOn(b, two.t.url).get('/me')).status).toBe(401);
    await expectServing(socketA, ann);
    expect((await sameBrowserOn(a, two.t.url).get('/me')).body).toEqual({ user: ann, note: null });

    // From Fastify to a socket on Express.
    const c = await login(two, ann);
    const socketC = await socketOn(one, c, ann);
    expect((await sameBrowserOn(a, two.t.url).post('/revoke', { handle: storeKeyOfBrowser(c) })).status).toBe(201);
    await expectClosedSoon(socketC, 'the revoked session’s socket on Express');
    expect((await c.get('/me')).status).toBe(401);
    await expectServing(socketA, ann);
  });

  it('a restarted server keeps the sessions it had: the old cookie works on the new instance', async () => {
    const ann = newUser('ann');
    const browser = await login(one, ann);
    expect((await browser.post('/note', { note: 'before the restart' })).status).toBe(201);
    const cookie = browser.jar.get('sid');
    const oldUrl = one.t.url;

    await one.t.close();
    // A new instance (new store, new connections) on the same Redis and prefix.
    one = await startRedisApp({ adapter: 'express', redisUrl: server.url, prefix, sockets: kindOne });
    expect(one.t.url).not.toBe(oldUrl);
    const again = sameBrowserOn(browser, one.t.url);
    const me = await again.get('/me');
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ user: ann, note: 'before the restart' });
    expect(again.jar.get('sid')).toBe(cookie);
    await socketOn(one, again, ann);
    // The new instance hears the other server's removals (its subscription is live).
    const socket = await socketOn(one, again, ann);
    expect((await sameBrowserOn(again, two.t.url).post('/logout')).status).toBe(201);
    await expectClosedSoon(socket, 'a socket on the restarted server');
    expect((await again.get('/me')).status).toBe(401);
  });
});

describe('keys and TTLs of two servers on one Redis', () => {
  const IDLE_S = 600;
  const ABSOLUTE_S = 7200;
  /** Anonymous sessions end a second after their last use, so that the test sees them expire. */
  const ANONYMOUS_IDLE_S = 1;
  const SLACK_MS = 5_000;
  let prefix: string;
  let one: RedisApp;
  let two: RedisApp;

  beforeAll(async () => {
    prefix = freshPrefix();
    const policy = { idleTimeout: IDLE_S, absoluteTimeout: ABSOLUTE_S, anonymous: { idleTimeout: ANONYMOUS_IDLE_S } };
    one = await startRedisApp({ adapter: 'express', redisUrl: server.url, prefix, policy });
    two = await startRedisApp({ adapter: 'fastify', redisUrl: server.url, prefix, policy });
  });

  afterAll(async () => {
    await one?.t.close();
    await two?.t.close();
  });

  /** Every key under the prefix has a TTL, and none outlives `bound(key)` (an absolute time, ms). */
  async function expectTtls(bound: (key: string) => number): Promise<string[]> {
    const ttls = await ttlsUnder(admin, prefix);
    const now = Date.now();
    for (const { key, pttl } of ttls) {
      expect({ key, hasTtl: pttl > 0 }).toEqual({ key, hasTtl: true });
      expect({ key, withinBound: now + pttl <= bound(key) + SLACK_MS }).toEqual({ key, withinBound: true });
    }
    return ttls.map(({ key }) => key);
  }

  it('gives every key a TTL, and leaves no session key behind once every session ended', async () => {
    const start = Date.now();
    const ann = newUser('ttl-ann');
    const bob = newUser('ttl-bob');
    const cut = (user: string) => `${prefix}{u:${user}}`;

    // A cart before login: an anonymous session.
    const a = new Browser(one.t.url);
    expect((await a.post('/cart', { item: 'apple' })).status).toBe(201);
    const anonymousKey = storeKeyOfBrowser(a);
    const shards = (keys: string[]) => keys.filter((key) => key.startsWith(`${prefix}x:`));
    let keys = await keysUnder(admin, prefix);
    // The anonymous sessions of one client address, on the anon set's Cluster slot (anonymous.maxPerAddress).
    const byAddress = `${prefix}{${prefix}anon}:a:127.0.0.1`;
    expect(keys.filter((key) => !key.startsWith(`${prefix}x:`))).toEqual([`${prefix}anon`, byAddress, `${prefix}s:${anonymousKey}`].sort());
    expect(shards(keys)).toHaveLength(1);

    // Ann logs in with it on the other server (the cart moves to her new session), and again in another browser.
    const aOnTwo = sameBrowserOn(a, two.t.url);
    expect((await aOnTwo.post('/login', { user: ann })).status).toBe(201);
    const b = new Browser(one.t.url);
    expect((await b.post('/login', { user: ann })).status).toBe(201);
    expect((await b.post('/note', { note: 'n' })).status).toBe(201);
    // Bob is closed everywhere once (his user hash gets an epoch), then logs in again.
    const c = new Browser(two.t.url);
    expect((await c.post('/login', { user: bob })).status).toBe(201);
    expect((await c.post('/disconnect-all')).body).toEqual({ closed: 1 });
    expect((await c.post('/login', { user: bob })).status).toBe(201);
    expect((await sameBrowserOn(c, one.t.url).get('/me')).body).toEqual({ user: bob, note: null });

    const sessionKeys = [storeKeyOfBrowser(aOnTwo), storeKeyOfBrowser(b), storeKeyOfBrowser(c)];
    // The handles the servers list are these keys.
    const annListed = ((await b.get('/sessions')).body as SessionInfo[]).map((session) => session.handle).sort();
    expect(annListed).toEqual([sessionKeys[0], sessionKeys[1]].sort());
    expect(((await c.get('/sessions')).body as SessionInfo[]).map((session) => session.handle)).toEqual([sessionKeys[2]]);

    keys = await keysUnder(admin, prefix);
    // Exactly the layout of redis-keys.ts: a hash per live session, the users' indexes, bob's user hash (epoch 1),
    // and the expiry schedule; the anonymous session and its index went with the login.
    expect(keys.filter((key) => !key.startsWith(`${prefix}x:`))).toEqual(
      [...sessionKeys.map((key) => `${prefix}s:${key}`), `${cut(ann)}:sessions`, `${cut(bob)}:sessions`, `${cut(bob)}:user`].sort(),
    );
    expect(shards(keys).length).toBeGreaterThanOrEqual(1);
    expect(shards(keys).length).toBeLessThanOrEqual(3);
    expect(await admin.hget(`${cut(bob)}:user`, 'epoch')).toBe('1');
    // Every key has a TTL, none longer than what it describes needs.
    await expectTtls((key) => {
      if (key.startsWith(`${prefix}s:`)) return Date.now() + IDLE_S * 1000 + EXPIRY_GRACE_MS;
      // A user's keys, and the expiry shards, live as long as the latest session they serve can (its absolute expiry
      // plus the grace): a touch moves neither.
      return start + ABSOLUTE_S * 1000 + EXPIRY_GRACE_MS;
    });

    // Every session ends: the logouts on either server, ann's first browser keeping its cart (a new anonymous session).
    expect((await aOnTwo.post('/logout')).status).toBe(201);
    expect((await b.post('/logout')).status).toBe(201);
    expect((await sameBrowserOn(c, one.t.url).post('/logout')).status).toBe(201);
    const lastAnonymous = storeKeyOfBrowser(aOnTwo);
    keys = await keysUnder(admin, prefix);
    expect(keys.filter((key) => !key.startsWith(`${prefix}x:`))).toEqual(
      [`${prefix}anon`, byAddress, `${prefix}s:${lastAnonymous}`, `${cut(bob)}:user`].sort(),
    );
    expect(shards(keys)).toHaveLength(1);
    await expectTtls((key) => {
      if (key.startsWith(`${prefix}s:`)) return Date.now() + ANONYMOUS_IDLE_S * 1000 + EXPIRY_GRACE_MS;
      // A shard's TTL only ever moves later: one that held a connected session keeps that session's.
      return start + ABSOLUTE_S * 1000 + EXPIRY_GRACE_MS;
    });

    // Past the anonymous session's idle timeout, a sweeper takes it, well within the store's grace: what remains is
    // bob's user hash (his epoch must outlive his sessions' cookies), with a TTL; no session key, index or schedule.
    const loggedOut = Date.now();
    await waitUntil(
      async () => (await keysUnder(admin, prefix)).length === 1,
      ANONYMOUS_IDLE_S * 1000 + EXPIRY_GRACE_MS + SLACK_MS,
      'the anonymous session to be swept',
    );
    const swept = Date.now() - loggedOut;
    expect(await keysUnder(admin, prefix)).toEqual([`${cut(bob)}:user`]);
    const userTtl = await admin.pttl(`${cut(bob)}:user`);
    expect(userTtl).toBeGreaterThan(USER_FLOOR_MS - SLACK_MS);
    expect(userTtl).toBeLessThanOrEqual(ABSOLUTE_S * 1000 + EXPIRY_GRACE_MS);
    expect(await admin.hgetall(`${cut(bob)}:user`)).toEqual({ epoch: '1' });
    // The last browser's cart went with its session.
    expect((await aOnTwo.get('/cart')).body).toEqual({ cart: null });
    reportMeasurement(`redis-servers: the last anonymous session (idle ${ANONYMOUS_IDLE_S} s) was swept ${swept} ms after the logouts`);
  });
});
