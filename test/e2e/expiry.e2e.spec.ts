import { Body, Controller, Post } from '@nestjs/common';
import { Connected, SessionKey, SessionService, type MemoryStore, type SessionEventOf } from '../../lib/index.js';
import { ADAPTERS, startWithStore, type TestApp } from '../support/app.js';
import { expiresCookie, NOT_CONNECTED } from '../support/auth-helpers.js';
import { AuthController } from '../support/auth.controller.js';
import { Browser, type Reply } from '../support/browser.js';
import { EventRecorder, sleep } from '../support/lifecycle-helpers.js';

const deleted: string[] = [];
const MEM = new SessionKey<string>('expiry.mem', { onDelete: (value) => void deleted.push(value) });
const PER = new SessionKey<string>('expiry.per', { persist: true, onDelete: (value) => void deleted.push(value) });
const TAB = new SessionKey<string>('expiry.tab', { scope: 'process', onDelete: (value) => void deleted.push(value) });

/** POST /fill {tag} (@Connected): sets the three keys to `<tag>/mem`, `<tag>/per` and `<tag>/tab`. */
@Controller()
class ExpiryController {
  constructor(private readonly sessions: SessionService) {}

  @Connected()
  @Post('fill')
  async fill(@Body() body: { tag: string }) {
    await this.sessions.set(MEM, `${body.tag}/mem`);
    await this.sessions.set(PER, `${body.tag}/per`);
    await this.sessions.set(TAB, `${body.tag}/tab`);
    return { ok: true };
  }
}

// AuthController: POST /login {user}, POST /logout, GET /me (@Connected) → {user}, GET /public.
const CONTROLLERS = [AuthController, ExpiryController];

const TAB_HEADER = { headers: { 'x-process-id': 'expiry-tab' } };

function expectExpired(reply: Reply): void {
  expect(reply.status).toBe(401);
  expect(reply.body).toEqual(NOT_CONNECTED);
  expect(expiresCookie(reply)).toBe(true);
}

describe.each(ADAPTERS)('session expiry over HTTP on %s', (adapter) => {
  describe('idle timeout of 1 second', () => {
    let t: TestApp;
    let store: MemoryStore;
    let events: EventRecorder;

    beforeAll(async () => {
      ({ t, store } = await startWithStore({ adapter, controllers: CONTROLLERS, policy: { idleTimeout: 1 } }));
      events = new EventRecorder(t.app);
    });
    afterAll(async () => {
      events.stop();
      await t.close();
    });

    it('a request after 1.5 s idle is a 401 that expires the cookie', async () => {
      const user = `expiry-idle-${adapter}`;
      const b = new Browser(t.url);
      expect((await b.post('/login', { user })).status).toBe(201);
      expect((await b.get('/me')).body).toEqual({ user });
      await sleep(1500);
      expectExpired(await b.get('/me'));
      expect(b.jar.has('sid')).toBe(false);
      expect(await store.listUser(user)).toEqual([]);
    });

    it('activity extends it', async () => {
      const user = `expiry-active-${adapter}`;
      const b = new Browser(t.url);
      expect((await b.post('/login', { user })).status).toBe(201);
      const loggedInAt = Date.now();
      // Requests every 100 ms for 2.5 s: well past the 1 s idle timeout, never near 1 s apart.
      let requests = 0;
      while (Date.now() - loggedInAt < 2500) {
        await sleep(100);
        const reply = await b.get('/me');
        expect(reply.status).toBe(200);
        expect(reply.body).toEqual({ user });
        requests++;
      }
      expect(requests).toBeGreaterThan(1);
      expect(await store.listUser(user)).toHaveLength(1);
      // And once the activity stops, it ends.
      await sleep(1500);
      expectExpired(await b.get('/me'));
    });

    it("the store's timer removes an expired session without any request: session-expired, onDelete once", async () => {
      const user = `expiry-timer-${adapter}`;
      const tag = `${adapter}-timer`;
      const b = new Browser(t.url);
      events.clear();
      expect((await b.post('/login', { user })).status).toBe(201);
      expect((await b.post('/fill', { tag }, TAB_HEADER)).status).toBe(201);
      const opened = events.events.find((e) => e.type === 'open-session' && e.userId === user) as SessionEventOf<'open-session'>;
      expect(opened).toBeDefined();
      const size = store.size;

      // No request from here on: only the store's own timer can end the session. (A generous upper wait.)
      const expired = await events.waitFor((e) => e.type === 'session-expired' && e.session === opened.session, 15_000);
      expect(expired).toMatchObject({
        type: 'session-expired',
        userId: user,
        session: opened.session,
        reason: 'expired',
        transport: 'http',
      });
      expect(expired.at).toBeInstanceOf(Date);
      expect(store.size).toBe(size - 1);
      expect(await store.listUser(user)).toEqual([]);
      expect(deleted.filter((v) => v.startsWith(`${tag}/`)).sort()).toEqual([`${tag}/mem`, `${tag}/per`, `${tag}/tab`]);
      // No pre/post-close events for an expiry: the session was not closed by anyone.
      expect(events.events.filter((e) => e.session === opened.session).map((e) => e.type)).not.toContain('pre-close-session');

      // The browser finds out on its next request; nothing runs twice.
      expectExpired(await b.get('/me'));
      await sleep(50);
      expect(deleted.filter((v) => v.startsWith(`${tag}/`))).toHaveLength(3);
      expect(events.events.filter((e) => e.type === 'session-expired' && e.session === opened.session)).toHaveLength(1);
    });
  });

  describe('absolute timeout of 2 seconds', () => {
    let t: TestApp;
    let store: MemoryStore;

    beforeAll(async () => {
      ({ t, store } = await startWithStore({ adapter, controllers: CONTROLLERS, policy: { idleTimeout: 60, absoluteTimeout: 2 } }));
    });
    afterAll(() => t.close());

    it('ends the session at 2 s whatever the activity', async () => {
      const user = `expiry-absolute-${adapter}`;
      const tag = `${adapter}-absolute`;
      const b = new Browser(t.url);
      const loginSentAt = Date.now();
      const login = await b.post('/login', { user });
      expect(login.status).toBe(201);
      // The cookie lives as long as the session may.
      expect(login.setCookies.find((c) => c.name === 'sid')?.attributes['max-age']).toBe('2');
      const loggedInAt = Date.now();
      expect((await b.post('/fill', { tag }, TAB_HEADER)).status).toBe(201);

      // Activity every 500 ms until 2.5 s after login.
      const replies: Array<Awaited<ReturnType<Browser['get']>>> = [];
      let early = 0;
      while (Date.now() - loggedInAt < 2500) {
        await sleep(500);
        const reply = await b.get('/me');
        replies.push(reply);
        // Answered before the session can have reached its absolute end: it must still be there.
        if (Date.now() < loginSentAt + 2000) {
          expect(reply.status).toBe(200);
          expect(reply.body).toEqual({ user });
          early++;
        }
      }
      expect(early).toBeGreaterThan(0);
      // The last one (sent 2.5 s after login) is refused; the first refusal expired the cookie, none came back.
      expect(replies[replies.length - 1]!.status).toBe(401);
      const firstRefusal = replies.findIndex((reply) => reply.status !== 200);
      expectExpired(replies[firstRefusal]!);
      for (const reply of replies.slice(firstRefusal)) {
        expect(reply.status).toBe(401);
        expect(reply.body).toEqual(NOT_CONNECTED);
      }
      expect(await store.listUser(user)).toEqual([]);
      expect(deleted.filter((v) => v.startsWith(`${tag}/`)).sort()).toEqual([`${tag}/mem`, `${tag}/per`, `${tag}/tab`]);
    });
  });
});
