import { Controller, Get, Post } from '@nestjs/common';
import { Connected, CurrentUser, MemoryStore, type SessionPolicy } from '../../lib/index.js';
import { ADAPTERS, startApp, type TestApp } from '../support/app.js';
import { AuthController } from '../support/auth.controller.js';
import { Browser } from '../support/browser.js';
import { expectExpiryOnly, expectNoSetCookie, FORBIDDEN, randomId, UNAUTHENTICATED } from '../support/auth-helpers.js';

/**
 * Group rules under /g. Login and the plain @Connected() route are AuthController's: POST /login {user},
 * GET /me → {user}.
 */
@Controller('g')
class GuardController {
  /** No @Connected, yet @CurrentUser gives the user when there is one. */
  @Get('public')
  open(@CurrentUser() user: string | undefined) {
    return { user: user ?? null };
  }

  @Connected({ allow: ['admin'] })
  @Get('admin')
  admin(@CurrentUser() user: string) {
    return { admin: user };
  }

  @Connected({ allow: ['admin', 'staff'], deny: ['banned'] })
  @Get('staff')
  staff(@CurrentUser() user: string) {
    return { staff: user };
  }

  @Connected({ deny: ['banned'] })
  @Get('not-banned')
  notBanned(@CurrentUser() user: string) {
    return { ok: user };
  }

  @Connected({ optional: true })
  @Get('optional')
  optional(@CurrentUser() user: string | undefined) {
    return { user: user ?? null, present: user !== undefined };
  }
}

/** Class-level options: every method needs an editor; one method narrows it further. */
@Connected({ allow: ['editor'] })
@Controller('editor')
class EditorController {
  @Get('read')
  read(@CurrentUser() user: string) {
    return { read: user };
  }

  @Post('save')
  save(@CurrentUser() user: string) {
    return { saved: user };
  }

  @Connected({ allow: ['editor'], deny: ['banned'] })
  @Get('write')
  write(@CurrentUser() user: string) {
    return { write: user };
  }
}

/** Class-level plain @Connected(): every method needs a user; a method may relax it with optional. */
@Connected()
@Controller('private')
class PrivateController {
  @Get('a')
  a(@CurrentUser() user: string) {
    return { a: user };
  }

  @Get('b')
  b(@CurrentUser() user: string) {
    return { b: user };
  }

  @Connected({ optional: true })
  @Get('relaxed')
  relaxed(@CurrentUser() user: string | undefined) {
    return { user: user ?? null };
  }
}

const GROUPS: Record<string, unknown> = {
  alice: ['admin'],
  bob: ['staff'],
  carol: [],
  mallory: ['admin', 'banned'],
  erin: ['editor'],
  eve: ['editor', 'banned'],
  // A string is not a list: 'superadmin'.includes('admin') must not admit anyone.
  stringy: 'superadmin',
};

/** The 503 of a request whose `policy.groups` could not answer. */
const GROUPS_UNAVAILABLE = expect.objectContaining({ statusCode: 503, code: 'store_unavailable', message: 'Session groups unavailable' });

/** A policy whose `groups` counts its calls and can throw, reject or never answer (bounded by `storeTimeout`). */
function countingPolicy(): { policy: Partial<SessionPolicy>; calls: string[] } {
  const calls: string[] = [];
  const policy: Partial<SessionPolicy> = {
    store: new MemoryStore(),
    storeTimeout: 300,
    groups: (userId: string) => {
      calls.push(userId);
      if (userId === 'thrower') throw new Error('directory down');
      if (userId === 'rejecter') return Promise.reject(new Error('directory down'));
      if (userId === 'hanger') return new Promise<string[]>(() => undefined);
      if (userId === 'slow-admin') return new Promise((resolve) => setImmediate(() => resolve(['admin'])));
      return (GROUPS[userId] ?? []) as string[];
    },
  };
  return { policy, calls };
}

describe('@Connected at decoration time', () => {
  it('an empty allow list throws, on a method or a class', () => {
    expect(() => Connected({ allow: [] })).toThrow(/allow/);
    expect(() => {
      @Connected({ allow: [] })
      class Nobody {}
      return Nobody;
    }).toThrow(/allow/);
    expect(() => Connected({ allow: [''] })).toThrow(/group/);
  });
});

describe.each(ADAPTERS)('the guard on %s', (adapter) => {
  describe('401, 403 and groups', () => {
    let t: TestApp;
    let calls: string[];
    const browsers = new Map<string, Browser>();

    /** A browser logged in as `user` (once per user). */
    async function as(user: string): Promise<Browser> {
      let b = browsers.get(user);
      if (b === undefined) {
        b = new Browser(t.url);
        expect((await b.post('/login', { user })).status).toBe(201);
        browsers.set(user, b);
      }
      return b;
    }

    beforeAll(async () => {
      const counting = countingPolicy();
      calls = counting.calls;
      t = await startApp({
        adapter,
        controllers: [AuthController, GuardController, EditorController, PrivateController],
        policy: counting.policy,
      });
    });
    afterAll(() => t.close());
    beforeEach(() => {
      calls.length = 0;
    });

    it('@Connected() without a session is 401 unauthenticated, and runs no groups', async () => {
      for (const path of ['/me', '/g/admin', '/g/staff', '/editor/read', '/private/a']) {
        const reply = await new Browser(t.url).get(path);
        expect(reply.status).toBe(401);
        expect(reply.body).toEqual(UNAUTHENTICATED);
        expectNoSetCookie(reply);
      }
      expect(calls).toEqual([]);
    });

    it('a connected user passes @Connected() without any groups call', async () => {
      const b = await as('carol');
      calls.length = 0;
      const reply = await b.get('/me');
      expect(reply.status).toBe(200);
      expect(reply.body).toEqual({ user: 'carol' });
      expect(calls).toEqual([]);
    });

    it('allow: a member passes, a non-member gets 403 forbidden and keeps the session', async () => {
      const alice = await as('alice');
      const carol = await as('carol');
      calls.length = 0;
      const ok = await alice.get('/g/admin');
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual({ admin: 'alice' });
      expect(calls).toEqual(['alice']);

      calls.length = 0;
      const refused = await carol.get('/g/admin');
      expect(refused.status).toBe(403);
      expect(refused.body).toEqual(FORBIDDEN);
      expect(calls).toEqual(['carol']);
      // A 403 is not a logout.
      expectNoSetCookie(refused);
      expect((await carol.get('/me')).body).toEqual({ user: 'carol' });
    });

    it('deny wins over allow, and deny alone refuses only the denied', async () => {
      const mallory = await as('mallory');
      const bob = await as('bob');
      const alice = await as('alice');
      const denied = await mallory.get('/g/staff');
      expect(denied.status).toBe(403);
      expect(denied.body).toEqual(FORBIDDEN);
      expect((await mallory.get('/g/not-banned')).status).toBe(403);
      // mallory is in allow (admin) for /g/admin, which has no deny: admitted there.
      expect((await mallory.get('/g/admin')).body).toEqual({ admin: 'mallory' });

      expect((await bob.get('/g/staff')).body).toEqual({ staff: 'bob' });
      expect((await alice.get('/g/staff')).body).toEqual({ staff: 'alice' });
      expect((await bob.get('/g/not-banned')).body).toEqual({ ok: 'bob' });
    });

    it('groups is called at most once per request, with class + method decorators and allow + deny', async () => {
      const erin = await as('erin');
      const eve = await as('eve');
      for (const [b, path, status] of [
        [erin, '/editor/write', 200],
        [eve, '/editor/write', 403],
        [erin, '/editor/read', 200],
        [eve, '/editor/read', 200],
        [erin, '/g/staff', 403],
      ] as const) {
        calls.length = 0;
        const reply = await b.get(path);
        expect({ path, status: reply.status }).toEqual({ path, status });
        expect(calls).toHaveLength(1);
      }
      // An async groups answer is awaited, and still fetched once.
      const slow = await as('slow-admin');
      calls.length = 0;
      expect((await slow.get('/g/staff')).body).toEqual({ staff: 'slow-admin' });
      expect(calls).toEqual(['slow-admin']);
    });

    it('a groups that throws, rejects or never answers could not answer: 503 for the request, never 500 or a hang, and the session stays', async () => {
      for (const user of ['thrower', 'rejecter', 'hanger']) {
        const b = await as(user);
        const reply = await b.get('/g/admin');
        expect(reply.status).toBe(503);
        expect(reply.body).toEqual(GROUPS_UNAVAILABLE);
        expect((await b.get('/g/not-banned')).status).toBe(503);
        // Routes that need no groups are not affected.
        expect((await b.get('/me')).body).toEqual({ user });
      }
      expect((await (await as('alice')).get('/g/admin')).status).toBe(200);
    });

    it('groups that are not a list deny', async () => {
      const stringy = await as('stringy');
      const reply = await stringy.get('/g/admin');
      expect(reply.status).toBe(403);
      expect(reply.body).toEqual(FORBIDDEN);
    });

    it('optional runs without a user (CurrentUser undefined, no cookie) and with one', async () => {
      const anonymous = await new Browser(t.url).get('/g/optional');
      expect(anonymous.status).toBe(200);
      expect(anonymous.body).toEqual({ user: null, present: false });
      expectNoSetCookie(anonymous);
      const withUser = await (await as('carol')).get('/g/optional');
      expect(withUser.body).toEqual({ user: 'carol', present: true });
      // A dead cookie on an optional route: anonymous, and the cookie is expired.
      const dead = await new Browser(t.url).get('/g/optional', { cookie: `sid=${randomId()}.${randomId()}` });
      expect(dead.status).toBe(200);
      expect(dead.body).toEqual({ user: null, present: false });
      expectExpiryOnly(dead);
    });

    it('class-level @Connected applies to every method, and a method decorator overrides it', async () => {
      const carol = await as('carol');
      const erin = await as('erin');
      for (const [path, method] of [
        ['/editor/read', 'get'],
        ['/editor/save', 'post'],
      ] as const) {
        const none = await new Browser(t.url)[method](path);
        expect(none.status).toBe(401);
        expect(none.body).toEqual(UNAUTHENTICATED);
        const refused = await carol[method](path);
        expect(refused.status).toBe(403);
        expect(refused.body).toEqual(FORBIDDEN);
      }
      expect((await erin.get('/editor/read')).body).toEqual({ read: 'erin' });
      expect((await erin.post('/editor/save')).body).toEqual({ saved: 'erin' });

      for (const path of ['/private/a', '/private/b']) {
        expect((await new Browser(t.url).get(path)).status).toBe(401);
      }
      expect((await carol.get('/private/a')).body).toEqual({ a: 'carol' });
      expect((await carol.get('/private/b')).body).toEqual({ b: 'carol' });
      expect((await new Browser(t.url).get('/private/relaxed')).body).toEqual({ user: null });
      expect((await carol.get('/private/relaxed')).body).toEqual({ user: 'carol' });
    });

    it('routes without @Connected run for everyone, with the user when there is one', async () => {
      expect((await new Browser(t.url).get('/g/public')).body).toEqual({ user: null });
      expect((await (await as('bob')).get('/g/public')).body).toEqual({ user: 'bob' });
      expect(calls).toEqual([]);
    });
  });

  describe('policy.denied', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp({
        adapter,
        controllers: [AuthController, GuardController, EditorController],
        policy: { ...countingPolicy().policy, denied: { status: 302, headers: { Location: '/login' } } },
      });
    });
    afterAll(() => t.close());

    it('turns a 401 into the configured redirect', async () => {
      const reply = await new Browser(t.url).get('/me');
      expect(reply.status).toBe(302);
      expect(reply.headers.get('location')).toBe('/login');
      expect(reply.body).toEqual(expect.objectContaining({ code: 'unauthenticated' }));
      expectNoSetCookie(reply);
    });

    it('turns a 403 into the configured redirect, and the session stays', async () => {
      const b = new Browser(t.url);
      await b.post('/login', { user: 'carol' });
      const reply = await b.get('/g/admin');
      expect(reply.status).toBe(302);
      expect(reply.headers.get('location')).toBe('/login');
      expect(reply.body).toEqual(expect.objectContaining({ code: 'forbidden' }));
      expect((await b.get('/me')).body).toEqual({ user: 'carol' });
      const thrower = new Browser(t.url);
      await thrower.post('/login', { user: 'thrower' });
      // A groups that could not answer is no refusal of the user: a 503, not the redirect.
      const failed = await thrower.get('/editor/read');
      expect(failed.status).toBe(503);
      expect(failed.headers.get('location')).toBeNull();
      expect((await thrower.get('/me')).body).toEqual({ user: 'thrower' });
    });

    it('a dead cookie gets the redirect and the expiry of the cookie', async () => {
      const reply = await new Browser(t.url).get('/me', { cookie: `sid=${randomId()}.${randomId()}` });
      expect(reply.status).toBe(302);
      expect(reply.headers.get('location')).toBe('/login');
      expectExpiryOnly(reply);
    });

    it('does not touch requests that are admitted', async () => {
      const b = new Browser(t.url);
      await b.post('/login', { user: 'alice' });
      const reply = await b.get('/g/admin');
      expect(reply.status).toBe(200);
      expect(reply.headers.get('location')).toBeNull();
      expect(reply.body).toEqual({ admin: 'alice' });
    });
  });
});
