import { storeKeyOf } from '../../lib/session/session-id.js';
import { RedisStore } from '../../lib/stores/redis/redis.store.js';
import type { SessionRecord } from '../../lib/index.js';
import { SECRET } from '../support/app.js';
import { idOf, isExpiry, randomId, signWith } from '../support/auth-helpers.js';
import { Browser } from '../support/browser.js';
import { GQL_GROUPS } from '../support/graphql-http-resolvers.js';
import {
  CountingMemoryStore,
  errorAt,
  errorSummary,
  expectRefusal,
  GQL_CASES,
  NOT_CONNECTED_ERROR,
  PERMISSION_DENIED_ERROR,
  startGraphqlApp,
  type GqlApp,
  type GqlClient,
  type GqlReply,
} from '../support/graphql-http.js';
import { FaultyStore } from '../support/lifecycle-helpers.js';
import { freshPrefix, timed } from '../support/redis-apps.js';
import { redisForFile } from '../support/store-kinds.js';

/**
 * GraphQL over HTTP (issue 12): @Connected, @CurrentUser, @SessionData and SessionService in resolvers of a code-first
 * schema, with no `context` option, on Apollo (Express) and Mercurius (Fastify), against real listening servers.
 * The resolvers and their schema: test/support/graphql-http-resolvers.ts.
 */

const STORE_UNAVAILABLE = { code: 'SESSION_STORE_UNAVAILABLE', message: /store/i } as const;

/** A generous "nothing hangs" bound: the sick-store answers come within storeTimeout (200 ms) and some slack. */
const NO_HANG_MS = 3000;

/** The store key of the session a client holds (the SHA-256 of its cookie's id). */
function storeKeyOfClient(client: GqlClient): string {
  const value = client.jar.get('sid');
  if (value === undefined) throw new Error('the client has no sid cookie');
  return storeKeyOf(idOf(value));
}

/** The runs of a resolver so far (the board counts the guarded resolvers that ran). */
function runs(app: GqlApp, field: string): number {
  return app.board.ran[field] ?? 0;
}

/** The Set-Cookie headers of a reply for the session cookie `sid`. */
function sidCookies(reply: GqlReply) {
  return reply.setCookies.filter((cookie) => cookie.name === 'sid');
}

/** A RedisStore that counts its session reads by key. */
class CountingRedisStore extends RedisStore {
  readonly reads = new Map<string, number>();

  override get(key: string): Promise<SessionRecord | undefined> {
    this.reads.set(key, (this.reads.get(key) ?? 0) + 1);
    return super.get(key);
  }
}

const redis = redisForFile();

describe.each(GQL_CASES)('GraphQL over HTTP on %s (%s)', (driver, adapter) => {
  describe('sessions, refusals and guards', () => {
    let app: GqlApp;

    beforeAll(async () => {
      app = await startGraphqlApp({ driver, adapter });
    });
    afterAll(() => app?.t.close());

    /** A client logged in as `user`. */
    async function as(user: string): Promise<GqlClient> {
      const client = app.client();
      await client.login(user);
      return client;
    }

    it('a login mutation sets the session cookie on the HTTP response, and that cookie opens guarded queries', async () => {
      const client = app.client();
      const before = await client.run('{ me }');
      expect(before.data).toEqual({ me: null });
      expectRefusal(errorAt(before, 'me'), NOT_CONNECTED_ERROR);

      const login = await client.run('mutation { login(user: "alice") }');
      expect(login.status).toBe(200);
      expect(login.errors).toEqual([]);
      expect(login.data).toEqual({ login: true });
      const [cookie, ...more] = sidCookies(login);
      expect(more).toEqual([]);
      expect(cookie).toBeDefined();
      expect(isExpiry(cookie!)).toBe(false);
      expect(cookie!.value).toMatch(/^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]+$/);
      expect(cookie!.attributes).toEqual(expect.objectContaining({ httponly: true, path: '/', samesite: 'Lax' }));

      const after = await client.run('{ me whoami currentUserId }');
      expect(after.status).toBe(200);
      expect(after.errors).toEqual([]);
      expect(after.data).toEqual({ me: 'alice', whoami: 'alice', currentUserId: 'alice' });
      // A connected answer is private (policy noStore).
      expect(after.headers.get('cache-control')).toBe('no-store');

      // The cookie is what opens it: another client, without it, is still refused.
      const stranger = await app.client().run('{ me whoami }');
      expect(stranger.data).toEqual({ me: null, whoami: null });
      expectRefusal(errorAt(stranger, 'me'), NOT_CONNECTED_ERROR);
    });

    it('an anonymous query gets its public fields and an UNAUTHENTICATED error at the path of the guarded one', async () => {
      const client = app.client();
      const ranBefore = runs(app, 'me');
      const reply = await client.run('{ hello me motd }');
      expect(reply.status).toBe(200);
      expect(reply.data).toEqual({ hello: 'world', me: null, motd: expect.any(String) });
      expect(reply.errors).toHaveLength(1);
      expectRefusal(errorAt(reply, 'me'), NOT_CONNECTED_ERROR);
      // The refused resolver did not run, and an anonymous request that stores nothing creates no session.
      expect(runs(app, 'me')).toBe(ranBefore);
      expect(reply.setCookies).toEqual([]);

      // Nothing was lost for that client: once logged in, the same query resolves whole.
      await client.login('carol');
      const again = await client.run('{ hello me }');
      expect(again.errors).toEqual([]);
      expect(again.data).toEqual({ hello: 'world', me: 'carol' });
    });

    it('a logout mutation expires the cookie; afterwards guarded queries are refused, even with the old cookie', async () => {
      const client = await as('bob');
      const old = client.jar.get('sid')!;
      expect((await client.run('{ me }')).data).toEqual({ me: 'bob' });

      const logout = await client.run('mutation { logout }');
      expect(logout.status).toBe(200);
      expect(logout.errors).toEqual([]);
      expect(logout.data).toEqual({ logout: true });
      const expired = sidCookies(logout);
      expect(expired.length).toBeGreaterThan(0);
      expect(expired.every(isExpiry)).toBe(true);
      expect(client.jar.has('sid')).toBe(false);

      const after = await client.run('{ hello me }');
      expect(after.status).toBe(200);
      expect(after.data).toEqual({ hello: 'world', me: null });
      expectRefusal(errorAt(after, 'me'), NOT_CONNECTED_ERROR);

      // The record is gone server-side: a copy of the old cookie opens nothing.
      const replay = await app.client().run('{ me whoami }', undefined, { cookie: `sid=${encodeURIComponent(old)}` });
      expect(replay.status).toBe(200);
      expect(replay.data).toEqual({ me: null, whoami: null });
      expectRefusal(errorAt(replay, 'me'), NOT_CONNECTED_ERROR);

      // Logging in again works.
      await client.login('bob');
      expect((await client.run('{ me }')).data).toEqual({ me: 'bob' });
    });

    it('mutations of one request run in order: a guarded one sees the login before it, and is refused after a logout', async () => {
      const client = app.client();
      const login = await client.run('mutation { login(user: "ivy") setNote(note: "first") }');
      expect(login.errors).toEqual([]);
      expect(login.data).toEqual({ login: true, setNote: true });
      expect(sidCookies(login).map(isExpiry)).toEqual([false]);
      expect((await client.run('{ me note }')).data).toEqual({ me: 'ivy', note: 'first' });

      const setNoteRuns = runs(app, 'setNote');
      const logout = await client.run('mutation { logout setNote(note: "second") }');
      expect(logout.status).toBe(200);
      expect(logout.data).toEqual({ logout: true, setNote: null });
      expect(logout.errors).toHaveLength(1);
      expectRefusal(errorAt(logout, 'setNote'), NOT_CONNECTED_ERROR);
      expect(runs(app, 'setNote')).toBe(setNoteRuns);
      expect(client.jar.has('sid')).toBe(false);
    });

    it('allow and deny with policy.groups on queries: FORBIDDEN fields are null, the others resolve', async () => {
      const query = '{ admin staff notBanned me }';
      const adminRuns = runs(app, 'admin');
      const staffRuns = runs(app, 'staff');

      const alice = await (await as('alice')).run(query);
      expect(alice.errors).toEqual([]);
      expect(alice.data).toEqual({ admin: 'alice', staff: 'alice', notBanned: 'alice', me: 'alice' });

      const bobClient = await as('bob');
      const bob = await bobClient.run(query);
      expect(bob.status).toBe(200);
      expect(bob.data).toEqual({ admin: null, staff: 'bob', notBanned: 'bob', me: 'bob' });
      expect(bob.errors).toHaveLength(1);
      expectRefusal(errorAt(bob, 'admin'), PERMISSION_DENIED_ERROR);

      // Deny wins over allow.
      const mallory = await (await as('mallory')).run(query);
      expect(mallory.data).toEqual({ admin: 'mallory', staff: null, notBanned: null, me: 'mallory' });
      expect(errorSummary(mallory)).toEqual([
        { path: 'notBanned', ...PERMISSION_DENIED_ERROR },
        { path: 'staff', ...PERMISSION_DENIED_ERROR },
      ]);

      const carol = await (await as('carol')).run(query);
      expect(carol.data).toEqual({ admin: null, staff: null, notBanned: 'carol', me: 'carol' });
      expect(errorSummary(carol)).toEqual([
        { path: 'admin', ...PERMISSION_DENIED_ERROR },
        { path: 'staff', ...PERMISSION_DENIED_ERROR },
      ]);

      // Without a user the answer is UNAUTHENTICATED, not FORBIDDEN.
      const anonymous = await app.client().run('{ admin staff }');
      expect(errorSummary(anonymous)).toEqual([
        { path: 'admin', ...NOT_CONNECTED_ERROR },
        { path: 'staff', ...NOT_CONNECTED_ERROR },
      ]);

      // Only the admitted resolvers ran: admin for alice and mallory, staff for alice and bob.
      expect(runs(app, 'admin') - adminRuns).toBe(2);
      expect(runs(app, 'staff') - staffRuns).toBe(2);
      // A refusal costs the session nothing.
      expect(await bobClient.run('{ me staff }')).toEqual(expect.objectContaining({ errors: [], data: { me: 'bob', staff: 'bob' } }));
    });

    it('a refused mutation changes nothing', async () => {
      const bob = await as('bob');
      const setMotdRuns = runs(app, 'setMotd');
      const before = app.board.motd;

      const refused = await bob.run('mutation { setMotd(text: "pwned") }');
      expect(refused.status).toBe(200);
      expect(refused.data).toEqual({ setMotd: null });
      expectRefusal(errorAt(refused, 'setMotd'), PERMISSION_DENIED_ERROR);
      expect(app.board.motd).toBe(before);
      expect(runs(app, 'setMotd')).toBe(setMotdRuns);
      expect((await bob.run('{ motd me }')).data).toEqual({ motd: before, me: 'bob' });

      // Anonymous: UNAUTHENTICATED, the resolver never ran, and no session was made for it.
      const setNoteRuns = runs(app, 'setNote');
      const anonymous = app.client();
      const note = await anonymous.run('mutation { setNote(note: "x") }');
      expect(note.data).toEqual({ setNote: null });
      expectRefusal(errorAt(note, 'setNote'), NOT_CONNECTED_ERROR);
      expect(runs(app, 'setNote')).toBe(setNoteRuns);
      expect(note.setCookies).toEqual([]);

      // The allowed user can.
      const alice = await as('alice');
      const allowed = await alice.run('mutation { setMotd(text: "hello all") }');
      expect(allowed.errors).toEqual([]);
      expect(allowed.data).toEqual({ setMotd: true });
      expect((await bob.run('{ motd }')).data).toEqual({ motd: 'hello all' });
      await alice.run('mutation($text: String!) { setMotd(text: $text) }', { text: before });
      expect(app.board.motd).toBe(before);
    });

    it('@Connected on a resolver class guards its fields; a method option replaces the class one', async () => {
      const anonymous = await app.client().run('{ privateA privateB relaxed hello }');
      expect(anonymous.status).toBe(200);
      expect(anonymous.data).toEqual({ privateA: null, privateB: null, relaxed: 'anonymous', hello: 'world' });
      expect(errorSummary(anonymous)).toEqual([
        { path: 'privateA', ...NOT_CONNECTED_ERROR },
        { path: 'privateB', ...NOT_CONNECTED_ERROR },
      ]);

      const erin = await (await as('erin')).run('{ privateA privateB relaxed }');
      expect(erin.errors).toEqual([]);
      expect(erin.data).toEqual({ privateA: 'A:erin', privateB: 'B:erin', relaxed: 'erin' });
    });

    it('optional: true runs the resolver without a user (CurrentUser undefined) and with one', async () => {
      const anonymous = await app.client().run('{ optionalUser { user present } }');
      expect(anonymous.errors).toEqual([]);
      expect(anonymous.data).toEqual({ optionalUser: { user: null, present: false } });

      const carol = await (await as('carol')).run('{ optionalUser { user present } }');
      expect(carol.errors).toEqual([]);
      expect(carol.data).toEqual({ optionalUser: { user: 'carol', present: true } });
    });

    it('guards run on field resolvers: each refused field of a list is null with its own error', async () => {
      const secretRuns = runs(app, 'secret');
      const anonymous = await app.client().run('{ items { name viewer secret } }');
      expect(anonymous.status).toBe(200);
      expect(anonymous.data).toEqual({
        items: [
          { name: 'pen', viewer: null, secret: null },
          { name: 'ink', viewer: null, secret: null },
          { name: 'pad', viewer: null, secret: null },
        ],
      });
      expect(errorSummary(anonymous)).toEqual([
        { path: 'items.0.secret', ...NOT_CONNECTED_ERROR },
        { path: 'items.1.secret', ...NOT_CONNECTED_ERROR },
        { path: 'items.2.secret', ...NOT_CONNECTED_ERROR },
      ]);
      expect(runs(app, 'secret')).toBe(secretRuns);

      const adminNoteRuns = runs(app, 'adminNote');
      const bob = await (await as('bob')).run('{ items { name viewer secret adminNote } }');
      expect(bob.data).toEqual({
        items: [
          { name: 'pen', viewer: 'bob', secret: 'pen:bob', adminNote: null },
          { name: 'ink', viewer: 'bob', secret: 'ink:bob', adminNote: null },
          { name: 'pad', viewer: 'bob', secret: 'pad:bob', adminNote: null },
        ],
      });
      expect(errorSummary(bob)).toEqual([
        { path: 'items.0.adminNote', ...PERMISSION_DENIED_ERROR },
        { path: 'items.1.adminNote', ...PERMISSION_DENIED_ERROR },
        { path: 'items.2.adminNote', ...PERMISSION_DENIED_ERROR },
      ]);
      expect(runs(app, 'adminNote')).toBe(adminNoteRuns);

      const alice = await (await as('alice')).run('{ items { secret adminNote } }');
      expect(alice.errors).toEqual([]);
      expect(alice.data).toEqual({
        items: [
          { secret: 'pen:alice', adminNote: 'pen!' },
          { secret: 'ink:alice', adminNote: 'ink!' },
          { secret: 'pad:alice', adminNote: 'pad!' },
        ],
      });
    });

    it('class-level groups on an object type resolver cover its query and field resolvers', async () => {
      const erin = await (await as('erin')).run('{ docs { title body draft } }');
      expect(erin.errors).toEqual([]);
      expect(erin.data).toEqual({
        docs: [
          { title: 'one', body: 'one by erin', draft: 'one (draft)' },
          { title: 'two', body: 'two by erin', draft: 'two (draft)' },
        ],
      });

      // An editor who is banned: the class rule admits her, the field's own rule (deny banned) does not.
      const eve = await (await as('eve')).run('{ docs { title body draft } }');
      expect(eve.data).toEqual({
        docs: [
          { title: 'one', body: 'one by eve', draft: null },
          { title: 'two', body: 'two by eve', draft: null },
        ],
      });
      expect(errorSummary(eve)).toEqual([
        { path: 'docs.0.draft', ...PERMISSION_DENIED_ERROR },
        { path: 'docs.1.draft', ...PERMISSION_DENIED_ERROR },
      ]);

      const alice = await (await as('alice')).run('{ hello docs { title } }');
      expect(alice.data).toEqual({ hello: 'world', docs: null });
      expectRefusal(errorAt(alice, 'docs'), PERMISSION_DENIED_ERROR);

      const anonymous = await app.client().run('{ hello docs { title } }');
      expect(anonymous.data).toEqual({ hello: 'world', docs: null });
      expectRefusal(errorAt(anonymous, 'docs'), NOT_CONNECTED_ERROR);
    });

    it('@SessionData and SessionService get, set and remove work in resolvers, per session', async () => {
      const alice = await as('alice');
      expect((await alice.run('{ note noteViaService }')).data).toEqual({ note: null, noteViaService: null });

      const set = await alice.run('mutation($note: String!) { setNote(note: $note) }', { note: 'buy milk' });
      expect(set.errors).toEqual([]);
      expect(set.data).toEqual({ setNote: true });
      const read = await alice.run('{ note noteViaService }');
      expect(read.errors).toEqual([]);
      expect(read.data).toEqual({ note: 'buy milk', noteViaService: 'buy milk' });

      // Session scope: alice's other browser does not see it.
      const elsewhere = await as('alice');
      expect((await elsewhere.run('{ note noteViaService }')).data).toEqual({ note: null, noteViaService: null });

      const removed = await alice.run('mutation { removeNote }');
      expect(removed.errors).toEqual([]);
      expect(removed.data).toEqual({ removeNote: true });
      expect((await alice.run('{ note noteViaService me }')).data).toEqual({ note: null, noteViaService: null, me: 'alice' });
    });

    it('browser data written by an anonymous mutation sets a cookie and survives the login', async () => {
      const client = app.client();
      const added = await client.run('mutation { addToCart(item: "tea") }');
      expect(added.errors).toEqual([]);
      expect(added.data).toEqual({ addToCart: ['tea'] });
      expect(sidCookies(added).map(isExpiry)).toEqual([false]);
      const anonymousCookie = client.jar.get('sid');

      const anonymous = await client.run('{ cart me }');
      expect(anonymous.data).toEqual({ cart: ['tea'], me: null });
      expectRefusal(errorAt(anonymous, 'me'), NOT_CONNECTED_ERROR);

      await client.login('dora');
      expect(client.jar.get('sid')).not.toBe(anonymousCookie);
      const connected = await client.run('{ cart me }');
      expect(connected.errors).toEqual([]);
      expect(connected.data).toEqual({ cart: ['tea'], me: 'dora' });
    });

    it('listSessions and revoke in resolvers: a revoked session is refused, the revoker keeps going', async () => {
      const first = await as('dave');
      const second = await as('dave');

      const listed = await first.run('{ sessionList { handle userId current } }');
      expect(listed.errors).toEqual([]);
      const sessions = listed.data!.sessionList as Array<{ handle: string; userId: string; current: boolean }>;
      expect(sessions).toHaveLength(2);
      expect(sessions.map((s) => s.userId)).toEqual(['dave', 'dave']);
      expect(sessions.filter((s) => s.current)).toHaveLength(1);
      // The handle is opaque: never the id in the cookie.
      for (const s of sessions) expect([idOf(first.jar.get('sid')!), idOf(second.jar.get('sid')!)]).not.toContain(s.handle);
      const other = sessions.find((s) => !s.current)!;

      // A handle that is not the caller's own is not revoked.
      const foreign = await first.run('mutation($h: String!) { revoke(handle: $h) }', { h: randomId() });
      expect(foreign.data).toEqual({ revoke: false });

      const revoked = await first.run('mutation($h: String!) { revoke(handle: $h) }', { h: other.handle });
      expect(revoked.errors).toEqual([]);
      expect(revoked.data).toEqual({ revoke: true });

      const gone = await second.run('{ hello me }');
      expect(gone.status).toBe(200);
      expect(gone.data).toEqual({ hello: 'world', me: null });
      expectRefusal(errorAt(gone, 'me'), NOT_CONNECTED_ERROR);

      const still = await first.run('{ me sessionList { current } }');
      expect(still.errors).toEqual([]);
      expect(still.data).toEqual({ me: 'dave', sessionList: [{ current: true }] });
    });

    it('disconnectAll in a resolver closes every session of the user', async () => {
      const devices = [await as('frank'), await as('frank'), await as('frank')];
      const bystander = await as('gina');

      // The cookies as they were: the replies may expire the caller's, but a copy must open nothing either.
      const cookies = devices.map((device) => `sid=${encodeURIComponent(device.jar.get('sid')!)}`);

      const closed = await devices[0]!.run('mutation { disconnectAll }');
      expect(closed.errors).toEqual([]);
      expect(closed.data).toEqual({ disconnectAll: 3 });

      for (const cookie of cookies) {
        const reply = await app.client().run('{ hello me }', undefined, { cookie });
        expect(reply.data).toEqual({ hello: 'world', me: null });
        expectRefusal(errorAt(reply, 'me'), NOT_CONNECTED_ERROR);
      }
      expect((await bystander.run('{ me }')).data).toEqual({ me: 'gina' });
      await devices[1]!.login('frank');
      expect((await devices[1]!.run('{ me }')).data).toEqual({ me: 'frank' });
    });

    it('concurrent requests of different users never see each other', async () => {
      const alice = await as('alice');
      const bob = await as('bob');
      const anonymous = app.client();
      const clients: Array<[GqlClient, string | null]> = [
        [alice, 'alice'],
        [bob, 'bob'],
        [anonymous, null],
      ];
      const replies = await Promise.all(
        Array.from({ length: 30 }, async (_, i) => {
          const [client, user] = clients[i % 3]!;
          const reply = await client.run('{ whoami currentUserId optionalUser { user } items { viewer } }');
          return { user, reply };
        }),
      );
      for (const { user, reply } of replies) {
        expect(reply.errors).toEqual([]);
        expect(reply.data).toEqual({
          whoami: user,
          currentUserId: user,
          optionalUser: { user },
          items: [{ viewer: user }, { viewer: user }, { viewer: user }],
        });
      }
    });

    describe('cookies a client makes up', () => {
      let victim: GqlClient;

      beforeAll(async () => {
        victim = app.client();
        await victim.login('victim');
      });

      const cases: Array<[string, () => string]> = [
        ['garbage', () => 'sid=garbage'],
        ['a value signed with another secret', () => `sid=${signWith('another-secret-that-is-long-enough-0123456789')}`],
        ['a well-signed id that was never issued', () => `sid=${signWith(SECRET, randomId())}`],
        ['a bad percent-encoding', () => 'sid=%E0%A4%A'],
        ['the victim id with a forged tag', () => `sid=${idOf(victim.jar.get('sid')!)}.${randomId()}`],
        ['the session cookie twice', () => `sid=${encodeURIComponent(victim.jar.get('sid')!)}; sid=garbage`],
        ['__proto__ and an empty sid', () => '__proto__=1; constructor=2; sid='],
        ['control characters', () => 'sid=a\tb'],
      ];

      it.each(cases)('%s: an anonymous request (UNAUTHENTICATED on a guarded field), never a 500', async (_, make) => {
        const reply = await app.client().run('{ hello me optionalUser { present } }', undefined, { cookie: make() });
        expect(reply.status).toBe(200);
        expect(reply.data).toEqual({ hello: 'world', me: null, optionalUser: { present: false } });
        expect(reply.errors).toHaveLength(1);
        expectRefusal(errorAt(reply, 'me'), NOT_CONNECTED_ERROR);
        // At most the session cookie is expired; nothing is set.
        for (const cookie of reply.setCookies)
          expect({ name: cookie.name, expiry: isExpiry(cookie) }).toEqual({ name: 'sid', expiry: true });
        // Nothing of the victim's session shows, and it is untouched.
        expect(reply.text).not.toContain(idOf(victim.jar.get('sid')!));
        expect((await victim.run('{ me }')).data).toEqual({ me: 'victim' });
      });
    });
  });

  describe('policy.denied (a redirect for HTTP handlers)', () => {
    let app: GqlApp;

    beforeAll(async () => {
      app = await startGraphqlApp({ driver, adapter, policy: { denied: { status: 302, headers: { Location: '/login' } } } });
    });
    afterAll(() => app?.t.close());

    it('is in force for a REST route of the same app', async () => {
      const reply = await new Browser(app.t.url).get('/rest/me');
      expect(reply.status).toBe(302);
      expect(reply.headers.get('location')).toBe('/login');
    });

    it('does not turn a GraphQL refusal into a redirect: UNAUTHENTICATED and FORBIDDEN errors, no Location', async () => {
      const anonymous = await app.client().run('{ hello me }');
      expect(anonymous.status).toBe(200);
      expect(anonymous.headers.get('location')).toBeNull();
      expect(anonymous.data).toEqual({ hello: 'world', me: null });
      expectRefusal(errorAt(anonymous, 'me'), NOT_CONNECTED_ERROR);

      const bob = app.client();
      const login = await bob.login('bob');
      expect(login.headers.get('location')).toBeNull();
      const forbidden = await bob.run('{ hello admin me }');
      expect(forbidden.status).toBe(200);
      expect(forbidden.headers.get('location')).toBeNull();
      expect(forbidden.data).toEqual({ hello: 'world', admin: null, me: 'bob' });
      expectRefusal(errorAt(forbidden, 'admin'), PERMISSION_DENIED_ERROR);

      // A field resolver refusal too.
      const items = await app.client().run('{ items { name secret } }');
      expect(items.status).toBe(200);
      expect(items.headers.get('location')).toBeNull();
      expect(errorSummary(items).map((e) => e.code)).toEqual(['UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED']);
    });
  });

  describe('one session read per HTTP request', () => {
    const QUERY = '{ a b c me items { name secret } }';
    const EXPECTED = {
      a: 'a:alice',
      b: 'b:alice',
      c: 'c:alice',
      me: 'alice',
      items: [
        { name: 'pen', secret: 'pen:alice' },
        { name: 'ink', secret: 'ink:alice' },
        { name: 'pad', secret: 'pad:alice' },
      ],
    };

    it('on a MemoryStore (read through peek): one read for 4 guarded root fields, a guarded field list and groups', async () => {
      const store = new CountingMemoryStore();
      const app = await startGraphqlApp({ driver, adapter, policy: { store } });
      try {
        const client = app.client();
        await client.login('alice');
        const key = storeKeyOfClient(client);

        store.resetReads();
        const reply = await client.run(QUERY);
        expect(reply.errors).toEqual([]);
        expect(reply.data).toEqual(EXPECTED);
        expect(Object.fromEntries(store.reads)).toEqual({ [key]: 1 });

        // With groups (allow on a root field and on a field resolver list) and a parallel anonymous request.
        store.resetReads();
        const [groups, anonymous] = await Promise.all([client.run('{ admin staff items { adminNote } }'), app.client().run(QUERY)]);
        expect(groups.errors).toEqual([]);
        expect(groups.data).toEqual({
          admin: 'alice',
          staff: 'alice',
          items: [{ adminNote: 'pen!' }, { adminNote: 'ink!' }, { adminNote: 'pad!' }],
        });
        expect(anonymous.errors).toHaveLength(7);
        // The anonymous request carried no cookie: no read at all.
        expect(Object.fromEntries(store.reads)).toEqual({ [key]: 1 });
      } finally {
        await app.t.close();
      }
    });

    it('in a batched HTTP request: every operation of the batch shares the one read', async () => {
      const store = new CountingMemoryStore();
      const app = await startGraphqlApp({ driver, adapter, policy: { store }, batch: true });
      try {
        const client = app.client();
        await client.login('alice');
        const key = storeKeyOfClient(client);

        store.resetReads();
        const batch = await client.runBatch([{ query: '{ a me }' }, { query: '{ b items { secret } }' }, { query: '{ c admin }' }]);
        expect(batch.status).toBe(200);
        expect(batch.results).toEqual([
          { data: { a: 'a:alice', me: 'alice' }, errors: [] },
          { data: { b: 'b:alice', items: [{ secret: 'pen:alice' }, { secret: 'ink:alice' }, { secret: 'pad:alice' }] }, errors: [] },
          { data: { c: 'c:alice', admin: 'alice' }, errors: [] },
        ]);
        expect(Object.fromEntries(store.reads)).toEqual({ [key]: 1 });

        // Anonymous: each operation is refused on its own guarded fields, its public ones resolve.
        const anonymous = await app.client().runBatch([{ query: '{ hello me }' }, { query: '{ motd a }' }]);
        expect(anonymous.status).toBe(200);
        expect(anonymous.results.map((result) => result.data)).toEqual([
          { hello: 'world', me: null },
          { motd: 'welcome', a: null },
        ]);
        expect(anonymous.results.map((result) => result.errors.map((e) => [e.path, e.extensions?.code, e.message]))).toEqual([
          [[['me'], 'UNAUTHENTICATED', 'Not connected']],
          [[['a'], 'UNAUTHENTICATED', 'Not connected']],
        ]);
      } finally {
        await app.t.close();
      }
    });

    it('on a store with only an asynchronous get: the guards of one request share one read', async () => {
      const store = new FaultyStore();
      const app = await startGraphqlApp({ driver, adapter, policy: { store } });
      try {
        const client = app.client();
        await client.login('alice');

        const before = store.calls['get'] ?? 0;
        const reply = await client.run(QUERY);
        expect(reply.errors).toEqual([]);
        expect(reply.data).toEqual(EXPECTED);
        expect((store.calls['get'] ?? 0) - before).toBe(1);

        const second = await client.run('{ admin staff items { adminNote } }');
        expect(second.errors).toEqual([]);
        expect((store.calls['get'] ?? 0) - before).toBe(2);
      } finally {
        await app.t.close();
      }
    });

    it('on a RedisStore: one read of the session for the whole query', async () => {
      const store = new CountingRedisStore({ url: redis.url, prefix: freshPrefix() });
      const app = await startGraphqlApp({ driver, adapter, policy: { store } });
      try {
        const client = app.client();
        await client.login('alice');
        const key = storeKeyOfClient(client);

        store.reads.clear();
        const reply = await client.run(QUERY);
        expect(reply.errors).toEqual([]);
        expect(reply.data).toEqual(EXPECTED);
        expect(Object.fromEntries(store.reads)).toEqual({ [key]: 1 });
      } finally {
        await app.t.close();
      }
    });
  });

  describe('a sick store (storeTimeout 200 ms)', () => {
    let app: GqlApp;
    let store: FaultyStore;
    let alice: GqlClient;

    beforeAll(async () => {
      store = new FaultyStore();
      // The group directory is down for one user: a throw, which the library must tell from "not in the group".
      const groups = (userId: string): string[] => {
        if (userId === 'directory-down') throw new Error('directory down');
        return GQL_GROUPS[userId] ?? [];
      };
      app = await startGraphqlApp({ driver, adapter, policy: { store, storeTimeout: 200, groups } });
      alice = app.client();
      await alice.login('alice');
    });
    afterEach(() => {
      store.mode = 'ok';
    });
    afterAll(() => app?.t.close());

    it('groups that cannot answer refuse only the fields with allow/deny (SESSION_STORE_UNAVAILABLE), the session stays', async () => {
      const client = app.client();
      await client.login('directory-down');
      const adminRuns = runs(app, 'admin');
      const reply = await client.run('{ hello me admin staff }');
      expect(reply.status).toBe(200);
      expect(reply.data).toEqual({ hello: 'world', me: 'directory-down', admin: null, staff: null });
      expect(errorSummary(reply)).toEqual([
        { path: 'admin', code: 'SESSION_STORE_UNAVAILABLE', message: 'Session groups unavailable' },
        { path: 'staff', code: 'SESSION_STORE_UNAVAILABLE', message: 'Session groups unavailable' },
      ]);
      expect(runs(app, 'admin')).toBe(adminRuns);
      expect(sidCookies(reply)).toEqual([]);
      expect((await client.run('{ me }')).data).toEqual({ me: 'directory-down' });
    });

    describe.each(['reject', 'hang'] as const)('that %ss', (mode) => {
      it('refuses guarded fields with SESSION_STORE_UNAVAILABLE within a bound; public fields resolve; the session survives', async () => {
        store.mode = mode;
        const { ms, value: reply, error } = await timed(alice.run('{ hello motd me a items { name secret } }'));
        expect(error).toBeUndefined();
        expect(ms).toBeLessThan(NO_HANG_MS);
        expect(reply!.status).toBe(200);
        expect(reply!.data).toEqual({
          hello: 'world',
          motd: 'welcome',
          me: null,
          a: null,
          items: [
            { name: 'pen', secret: null },
            { name: 'ink', secret: null },
            { name: 'pad', secret: null },
          ],
        });
        expect(errorSummary(reply!).map((e) => e.path)).toEqual(['a', 'items.0.secret', 'items.1.secret', 'items.2.secret', 'me']);
        for (const e of reply!.errors) expectRefusal(e, STORE_UNAVAILABLE);
        // A sick store is no reason to log anyone out: no cookie is expired; the id shows nowhere.
        expect(reply!.setCookies).toEqual([]);
        expect(reply!.text).not.toContain(idOf(alice.jar.get('sid')!));

        store.mode = 'ok';
        const healed = await alice.run('{ me a }');
        expect(healed.errors).toEqual([]);
        expect(healed.data).toEqual({ me: 'alice', a: 'a:alice' });
      });

      // Not a guard's refusal: connect() throws SessionStoreUnavailableException (an HttpException 503), which each
      // server reports its own way (README, GraphQL): Apollo as INTERNAL_SERVER_ERROR with extensions.status 503,
      // Mercurius with the message alone.
      it('a login mutation fails with the store-unavailable message, issues no cookie, and loses nothing', async () => {
        const client = app.client();
        await client.run('mutation { addToCart(item: "tea") }');
        const anonymousCookie = client.jar.get('sid');
        expect(anonymousCookie).toBeDefined();

        store.mode = mode;
        const { ms, value: reply } = await timed(client.run('mutation { login(user: "hank") }'));
        expect(ms).toBeLessThan(NO_HANG_MS);
        expect(reply!.data ?? null).toBeNull();
        const error = errorAt(reply!, 'login');
        expect(error.message).toBe('Session store unavailable');
        if (driver === 'apollo') expect(error.extensions).toEqual(expect.objectContaining({ code: 'INTERNAL_SERVER_ERROR', status: 503 }));
        expect(sidCookies(reply!).filter((cookie) => !isExpiry(cookie))).toEqual([]);

        store.mode = 'ok';
        expect(client.jar.get('sid')).toBe(anonymousCookie);
        const after = await client.run('{ cart me }');
        expect(after.data).toEqual({ cart: ['tea'], me: null });
        await client.login('hank');
        expect((await client.run('{ cart me }')).data).toEqual({ cart: ['tea'], me: 'hank' });
      });
    });
  });
});
