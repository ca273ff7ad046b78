import { Body, Controller, Get, Injectable, Param, Post, Query } from '@nestjs/common';
import { Connected, CurrentUser, SessionKey, SessionService } from '../../lib/index.js';
import { LocalValues } from '../../lib/session/local-values.js';
import { ADAPTERS, startApp, type TestApp } from '../support/app.js';
import { cookiesNamed, expiresCookie, NOT_CONNECTED } from '../support/auth-helpers.js';
import { AuthController } from '../support/auth.controller.js';
import { Browser, deletesCookie } from '../support/browser.js';
import { deferred, FaultyStore, sleep, type Deferred } from '../support/lifecycle-helpers.js';

/** Every onDelete run of this file, as `value` strings (values are `<tag>/<key short name>`). */
const deleted: string[] = [];
const record = (value: string) => {
  deleted.push(value);
};
function deletedOf(tag: string): string[] {
  return deleted.filter((value) => value.startsWith(`${tag}/`)).sort();
}

// Keys with an onDelete, one per scope and kind. Names are global: every key of this file starts with 'life.'.
const D = {
  sMem: new SessionKey<string>('life.d.s.mem', { onDelete: record }),
  sPer: new SessionKey<string>('life.d.s.per', { persist: true, onDelete: record }),
  pMem: new SessionKey<string>('life.d.p.mem', { scope: 'process', onDelete: record }),
  bMem: new SessionKey<string>('life.d.b.mem', { scope: 'browser', onDelete: record }),
  bPer: new SessionKey<string>('life.d.b.per', { scope: 'browser', persist: true, onDelete: record }),
  uPer: new SessionKey<string>('life.d.u.per', { scope: 'user', persist: true, onDelete: record }),
};
type Short = keyof typeof D;
const SHORTS = Object.keys(D) as Short[];
const WITH_SESSION: Short[] = ['pMem', 'sMem', 'sPer'];
const BROWSER: Short[] = ['bMem', 'bPer'];
const expected = (tag: string, shorts: Short[]) => shorts.map((short) => `${tag}/${short}`).sort();

/** Holds a handler between "entered" and "released", so that another request can run in between. */
@Injectable()
class Gate {
  entered: Deferred = deferred();
  release: Deferred = deferred();
  reset(): void {
    this.entered = deferred();
    this.release = deferred();
  }
}

@Controller()
class LifecycleController {
  constructor(
    private readonly sessions: SessionService,
    private readonly gate: Gate,
  ) {}

  /** Sets every key of `D` to `<tag>/<short>` (the process key needs x-process-id). */
  @Post('fill')
  async fill(@Body() body: { tag: string; only?: Short[] }) {
    for (const short of body.only ?? SHORTS) await this.sessions.set(D[short], `${body.tag}/${short}`);
    return { ok: true };
  }

  @Get('read')
  async read() {
    const values: Record<string, string | null> = {};
    for (const short of SHORTS) values[short] = (await this.sessions.get(D[short])) ?? null;
    return values;
  }

  @Post('remove-all')
  async removeAll() {
    for (const short of SHORTS) await this.sessions.remove(D[short]);
    return { ok: true };
  }

  /** Waits at the gate, then writes `key`: the session may have been closed meanwhile. */
  @Connected()
  @Post('slow/:short')
  async slow(@Param('short') short: Short) {
    this.gate.entered.resolve();
    await this.gate.release.promise;
    await this.sessions.set(D[short], 'late/write');
    return { ok: true };
  }

  @Connected()
  @Post('revoke-others')
  async revokeOthers(@CurrentUser() user: string) {
    const others = (await this.sessions.listSessions(user)).filter((session) => !session.current);
    for (const session of others) await this.sessions.revoke(session.handle);
    return { revoked: others.length };
  }

  @Connected()
  @Post('logout-all')
  async logoutAll(@Query('indep') indep?: string) {
    const closed = await this.sessions.disconnectAll(indep === '1' ? { userIndep: true } : { userIndep: false });
    return { closed, user: this.sessions.currentUserId() ?? null };
  }
}

const TAB = { headers: { 'x-process-id': 'life-tab' } };

describe.each(ADAPTERS)('session lifecycle over HTTP on %s', (adapter) => {
  let t: TestApp;
  let store: FaultyStore;
  let gate: Gate;

  beforeAll(async () => {
    store = new FaultyStore();
    // AuthController: POST /login {user}, POST /logout, GET /me (@Connected) → {user}, GET /public.
    t = await startApp({ adapter, controllers: [AuthController, LifecycleController], providers: [Gate], policy: { store } });
    gate = t.app.get(Gate);
  });
  afterAll(() => t.close());

  async function loggedIn(user: string, browser = new Browser(t.url)): Promise<Browser> {
    const reply = await browser.post('/login', { user });
    expect(reply.status).toBe(201);
    return browser;
  }

  async function fill(browser: Browser, tag: string): Promise<void> {
    expect((await browser.post('/fill', { tag }, TAB)).status).toBe(201);
    const read = await browser.get('/read', TAB);
    expect(read.body).toEqual(Object.fromEntries(SHORTS.map((short) => [short, `${tag}/${short}`])));
  }

  describe('a slow request cannot resurrect a session closed meanwhile', () => {
    for (const short of ['sPer', 'sMem', 'bPer', 'bMem', 'pMem'] as Short[]) {
      it(`writing ${D[short].name} after a logout is a 401 and leaves no session behind`, async () => {
        const user = `life-slow-${short}-${adapter}`;
        const b = await loggedIn(user);
        const [[handle]] = (await store.listUser(user)) as [[string, unknown]];
        const oldCookie = b.cookieHeader();
        const size = store.size;
        gate.reset();

        const slow = b.post(`/slow/${short}`, {}, TAB);
        await gate.entered.promise;
        const logout = await b.post('/logout');
        expect(logout.status).toBe(201);
        expect(store.size).toBe(size - 1);
        const creates = store.calls['create'] ?? 0;
        gate.release.resolve();

        const late = await slow;
        expect(late.status).toBe(401);
        expect(late.body).toMatchObject({ statusCode: 401, code: 'unauthenticated', message: 'The session was closed' });
        expect(cookiesNamed(late, 'sid').filter((c) => !deletesCookie(c))).toEqual([]);

        // Nothing came back: not in the store, not in memory, not for the old cookie.
        expect(store.size).toBe(size - 1);
        expect(store.calls['create'] ?? 0).toBe(creates);
        expect(await store.inner.get(handle)).toBeUndefined();
        expect(await store.inner.listUser(user)).toEqual([]);
        expect(t.app.get(LocalValues).entries(handle)).toEqual([]);
        const again = await new Browser(t.url).get('/me', { cookie: oldCookie });
        expect(again.status).toBe(401);
        expect(again.body).toEqual(NOT_CONNECTED);
        // The late value was never handed to an onDelete either: it was never stored.
        expect(deleted).not.toContain('late/write');
      });
    }

    for (const short of ['sPer', 'sMem'] as Short[]) {
      it(`writing ${D[short].name} after a disconnectAll that kept the browser's data is a 401`, async () => {
        const user = `life-slow-all-${short}-${adapter}`;
        const b = new Browser(t.url);
        // Browser data before login: disconnectAll (userIndep false) leaves this browser an anonymous session.
        expect((await b.post('/fill', { tag: `${adapter}-sa-${short}`, only: ['bPer'] })).status).toBe(201);
        await loggedIn(user, b);
        const [[handle]] = (await store.listUser(user)) as [[string, unknown]];
        gate.reset();

        const slow = b.post(`/slow/${short}`, {}, TAB);
        await gate.entered.promise;
        expect(await t.app.get(SessionService).disconnectAll({ userId: user, userIndep: false })).toBe(1);
        gate.release.resolve();

        const late = await slow;
        expect(late.status).toBe(401);
        expect(late.body).toMatchObject({ statusCode: 401, code: 'unauthenticated', message: 'The session was closed' });
        // The browser is anonymous with its browser data, and holds nothing of the closed session.
        expect((await b.get('/read', TAB)).body).toEqual({
          sMem: null,
          sPer: null,
          pMem: null,
          bMem: null,
          bPer: `${adapter}-sa-${short}/bPer`,
          uPer: null,
        });
        const left = await store.inner.get(handle);
        expect(left?.userId).toBeUndefined();
        expect(left?.data).toEqual({ [`b:${D.bPer.name}`]: JSON.stringify(`${adapter}-sa-${short}/bPer`) });
        expect(t.app.get(LocalValues).entries(handle)).toEqual([]);
        expect((await b.get('/me')).status).toBe(401);
      });
    }
  });

  describe('onDelete runs exactly once per value dropped with its session', () => {
    it('not on remove()', async () => {
      const b = await loggedIn(`life-remove-${adapter}`);
      await fill(b, `${adapter}-rm`);
      expect((await b.post('/remove-all', {}, TAB)).status).toBe(201);
      expect((await b.get('/read', TAB)).body).toEqual(Object.fromEntries(SHORTS.map((short) => [short, null])));
      expect(deletedOf(`${adapter}-rm`)).toEqual([]);
      expect((await b.post('/logout')).status).toBe(201);
      expect(deletedOf(`${adapter}-rm`)).toEqual([]);
    });

    it('on logout, for session and process values (persisted and in memory); browser values stay', async () => {
      const b = await loggedIn(`life-logout-${adapter}`);
      await fill(b, `${adapter}-lo`);
      expect(deletedOf(`${adapter}-lo`)).toEqual([]);
      expect((await b.post('/logout')).status).toBe(201);
      // Awaited by the logout: complete when it answers.
      expect(deletedOf(`${adapter}-lo`)).toEqual(expected(`${adapter}-lo`, WITH_SESSION));
      expect((await b.get('/read', TAB)).body).toEqual({
        sMem: null,
        sPer: null,
        pMem: null,
        bMem: `${adapter}-lo/bMem`,
        bPer: `${adapter}-lo/bPer`,
        uPer: null,
      });
      // More traffic, another login and logout: nothing runs twice.
      await loggedIn(`life-logout-${adapter}`, b);
      expect((await b.post('/logout')).status).toBe(201);
      await sleep(50);
      expect(deletedOf(`${adapter}-lo`)).toEqual(expected(`${adapter}-lo`, WITH_SESSION));
    });

    it('on revoke, for every value of the revoked session, browser ones included', async () => {
      const a = await loggedIn(`life-revoke-${adapter}`);
      const b = await loggedIn(`life-revoke-${adapter}`);
      await fill(a, `${adapter}-rv`);
      const revoke = await b.post('/revoke-others');
      expect(revoke.status).toBe(201);
      expect(revoke.body).toEqual({ revoked: 1 });
      expect(deletedOf(`${adapter}-rv`)).toEqual(expected(`${adapter}-rv`, [...WITH_SESSION, ...BROWSER]));
      const gone = await a.get('/me');
      expect(gone.status).toBe(401);
      expect(expiresCookie(gone)).toBe(true);
      expect((await b.get('/me')).body).toEqual({ user: `life-revoke-${adapter}` });
      await sleep(50);
      expect(deletedOf(`${adapter}-rv`)).toEqual(expected(`${adapter}-rv`, [...WITH_SESSION, ...BROWSER]));
      await b.post('/logout');
    });
  });

  describe('disconnectAll', () => {
    /** Three browsers of `user` (two with their own browser data and values) and one of another user. */
    async function scene(user: string, tag: string) {
      const a = await loggedIn(user);
      const b = await loggedIn(user);
      const c = await loggedIn(user);
      const other = await loggedIn(`${user}-other`);
      await fill(a, `${tag}-a`);
      await fill(b, `${tag}-b`);
      await fill(other, `${tag}-o`);
      expect(await store.listUser(user)).toHaveLength(3);
      return { a, b, c, other };
    }

    async function expectClosed(browsers: Browser[]): Promise<void> {
      for (const browser of browsers) {
        const reply = await browser.get('/me');
        expect(reply.status).toBe(401);
        expect(reply.body).toEqual(NOT_CONNECTED);
      }
    }

    async function expectOtherUntouched(other: Browser, user: string, tag: string): Promise<void> {
      expect((await other.get('/me')).body).toEqual({ user: `${user}-other` });
      expect((await other.get('/read', TAB)).body).toEqual(Object.fromEntries(SHORTS.map((short) => [short, `${tag}-o/${short}`])));
      expect(deletedOf(`${tag}-o`)).toEqual([]);
      expect(await store.listUser(`${user}-other`)).toHaveLength(1);
    }

    for (const userIndep of [false, true]) {
      it(`from inside a request closes every session of the user (userIndep: ${userIndep})`, async () => {
        const user = `life-all-in-${userIndep}-${adapter}`;
        const tag = `${adapter}-in${userIndep}`;
        const { a, b, c, other } = await scene(user, tag);
        const size = store.size;

        const reply = await a.post(`/logout-all${userIndep ? '?indep=1' : ''}`);
        expect(reply.status).toBe(201);
        expect(reply.body).toEqual({ closed: 3, user: null });
        expect(await store.listUser(user)).toEqual([]);

        const dropped = userIndep ? [...WITH_SESSION, ...BROWSER] : WITH_SESSION;
        expect(deletedOf(`${tag}-a`)).toEqual(expected(`${tag}-a`, dropped));
        expect(deletedOf(`${tag}-b`)).toEqual(expected(`${tag}-b`, dropped));
        await expectClosed([a, b, c]);
        for (const [browser, who] of [
          [a, 'a'],
          [b, 'b'],
        ] as const) {
          const read = await browser.get('/read', TAB);
          expect(read.body).toEqual({
            sMem: null,
            sPer: null,
            pMem: null,
            bMem: userIndep ? null : `${tag}-${who}/bMem`,
            bPer: userIndep ? null : `${tag}-${who}/bPer`,
            uPer: null,
          });
        }
        // a and b keep an anonymous session for their browser data; c had none, nothing is left of it.
        expect(store.size).toBe(userIndep ? size - 3 : size - 1);
        await expectOtherUntouched(other, user, tag);
        await sleep(50);
        expect(deletedOf(`${tag}-a`)).toEqual(expected(`${tag}-a`, dropped));
        expect(deletedOf(`${tag}-b`)).toEqual(expected(`${tag}-b`, dropped));
        await other.post('/logout');
      });

      it(`from outside any request, given a userId (userIndep: ${userIndep})`, async () => {
        const user = `life-all-out-${userIndep}-${adapter}`;
        const tag = `${adapter}-out${userIndep}`;
        const { a, b, c, other } = await scene(user, tag);
        const size = store.size;

        const closed = await t.app.get(SessionService).disconnectAll({ userId: user, userIndep });
        expect(closed).toBe(3);
        expect(await store.listUser(user)).toEqual([]);

        const dropped = userIndep ? [...WITH_SESSION, ...BROWSER] : WITH_SESSION;
        expect(deletedOf(`${tag}-a`)).toEqual(expected(`${tag}-a`, dropped));
        expect(deletedOf(`${tag}-b`)).toEqual(expected(`${tag}-b`, dropped));
        expect(store.size).toBe(userIndep ? size - 3 : size - 1);
        await expectClosed([a, b, c]);
        for (const [browser, who] of [
          [a, 'a'],
          [b, 'b'],
        ] as const) {
          const read = await browser.get('/read', TAB);
          expect(read.body).toMatchObject({
            sPer: null,
            bMem: userIndep ? null : `${tag}-${who}/bMem`,
            bPer: userIndep ? null : `${tag}-${who}/bPer`,
          });
        }
        await expectOtherUntouched(other, user, tag);
        // Nothing left to close.
        expect(await t.app.get(SessionService).disconnectAll({ userId: user, userIndep })).toBe(0);
        expect(deletedOf(`${tag}-a`)).toEqual(expected(`${tag}-a`, dropped));
        await other.post('/logout');
      });
    }

    it('outside a request it needs a userId', async () => {
      await expect(t.app.get(SessionService).disconnectAll()).rejects.toThrow('disconnectAll() outside a request needs { userId }');
    });
  });
});
