import { Controller, Get, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { loginAs } from 'nestjs-connected/testing';
import request from 'supertest';
import { Connected, CurrentUser, SessionService } from '../../lib/index.js';
import { ADAPTERS, startApp, type TestApp } from '../support/app.js';
import { LiveGateway } from '../support/live.gateway.js';
import { openSocket, sessionSockets, SOCKET_KINDS } from '../support/sockets.js';

/** `GET /me` (@Connected) → `{ user }`; `GET /sessions` (@Connected) → the user's sessions as `listSessions()` gives them. */
@Controller()
class MeController {
  constructor(private readonly sessions: SessionService) {}

  @Connected()
  @Get('me')
  me(@CurrentUser() user: string) {
    return { user };
  }

  @Connected()
  @Get('sessions')
  list(@CurrentUser() user: string) {
    return this.sessions.listSessions(user);
  }
}

const COOKIE = /^sid=[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/;

describe.each(ADAPTERS)('loginAs on %s', (adapter) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ adapter, controllers: [MeController] });
  });
  afterAll(() => t.close());

  it('gives a Cookie header value that supertest sends as the user', async () => {
    const cookie = await loginAs(t.app, 'alice');
    expect(cookie).toMatch(COOKIE);
    const server = t.app.getHttpServer();
    await request(server).get('/me').expect(401);
    await request(server).get('/me').set('Cookie', cookie).expect(200, { user: 'alice' });
  });

  it('works with fetch against the listening server', async () => {
    const cookie = await loginAs(t.app, 'bob', { expire: true });
    const response = await fetch(`${t.url}/me`, { headers: { cookie } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ user: 'bob' });
  });

  it('opens a new session on every call, each marked as made by loginAs', async () => {
    const first = await loginAs(t.app, 'carol');
    const second = await loginAs(t.app, 'carol');
    expect(second).not.toBe(first);
    const { body } = await request(t.app.getHttpServer()).get('/sessions').set('Cookie', second).expect(200);
    expect(body).toHaveLength(2);
    expect(body.map((session: { userAgent: string }) => session.userAgent)).toEqual([
      'nestjs-connected/testing loginAs',
      'nestjs-connected/testing loginAs',
    ]);
    expect(body.map((session: { current: boolean }) => session.current)).toEqual([false, true]);
  });

  it('is refused like connect() for a user id connect() refuses', async () => {
    await expect(loginAs(t.app, '')).rejects.toThrow(/user id/);
  });
});

describe.each(SOCKET_KINDS)('loginAs with a %s client', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ adapter: 'express', providers: [LiveGateway], configure: sessionSockets(kind) });
  });
  afterAll(() => t.close());

  it('opens a socket whose handshake carries the cookie', async () => {
    const cookie = await loginAs(t.app, 'dave');
    const socket = await openSocket(kind, t.url, { cookie });
    try {
      expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user: 'dave' } });
    } finally {
      await socket.close();
    }
    // Without it the same handshake is refused: the cookie is what let it in.
    await expect(openSocket(kind, t.url)).rejects.toMatchObject({ code: 'unauthenticated' });
  });
});

describe('loginAs and the cookie name', () => {
  it('names the cookie __Host-sid when the policy says secure: true, and the app reads it over plain HTTP', async () => {
    const t = await startApp({ adapter: 'express', controllers: [MeController], policy: { cookie: { secure: true } } });
    try {
      const cookie = await loginAs(t.app, 'erin');
      expect(cookie).toMatch(/^__Host-sid=/);
      await request(t.app.getHttpServer()).get('/me').set('Cookie', cookie).expect(200, { user: 'erin' });
    } finally {
      await t.close();
    }
  });

  it.each(ADAPTERS)(
    "under secure: 'auto' on %s, gives the plain-HTTP name; a request seen as HTTPS needs the same value as __Host-sid",
    async (adapter) => {
      const t = await startApp({ adapter, controllers: [MeController], trustProxy: true });
      try {
        const cookie = await loginAs(t.app, 'frank');
        expect(cookie).toMatch(COOKIE);
        const server = t.app.getHttpServer();
        await request(server).get('/me').set('Cookie', cookie).expect(200, { user: 'frank' });
        const overHttps = (value: string) => request(server).get('/me').set('X-Forwarded-Proto', 'https').set('Cookie', value);
        await overHttps(cookie).expect(401);
        await overHttps(`__Host-${cookie}`).expect(200, { user: 'frank' });
      } finally {
        await t.close();
      }
    },
  );
});

describe('loginAs on an application without sessions', () => {
  @Module({})
  class PlainModule {}

  it('says what is missing', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [PlainModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    try {
      await expect(loginAs(app, 'alice')).rejects.toThrow('loginAs() needs an application that imports SessionModule');
    } finally {
      await app.close();
    }
  });
});
