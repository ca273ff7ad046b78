import { Controller, ForbiddenException, Get, Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { loginAs } from 'nestjs-connected/testing';
import { RedisStore } from 'nestjs-connected/redis';
import request from 'supertest';
import {
  Connected,
  CurrentUser,
  MemoryStore,
  OnSessionEvent,
  SESSION_STORE,
  SessionModule,
  SessionService,
  type SessionEvent,
  type SessionEventOf,
} from '../../lib/index.js';
import { SECRET, startApp, type TestApp } from '../support/app.js';
import { freshPrefix } from '../support/redis-apps.js';
import { freePort } from '../support/redis-server.js';
import { redisForFile } from '../support/store-kinds.js';

/** `GET /me` (@Connected) → `{ user }`. */
@Controller()
class MeController {
  @Connected()
  @Get('me')
  me(@CurrentUser() user: string) {
    return { user };
  }
}

/** An `open-session` hook that records what it saw and refuses `mallory`, as an application's audit might. */
@Injectable()
class LoginAudit {
  readonly opened: Array<SessionEventOf<'open-session'>> = [];

  @OnSessionEvent('open-session')
  async onOpen(event: SessionEventOf<'open-session'>): Promise<void> {
    await Promise.resolve();
    if (event.userId === 'mallory') throw new ForbiddenException('mallory may not log in');
    this.opened.push(event);
  }
}

describe("loginAs and the application's hooks and events", () => {
  let t: TestApp;
  let audit: LoginAudit;
  let sessions: SessionService;
  const events: SessionEvent[] = [];
  beforeAll(async () => {
    t = await startApp({ adapter: 'express', controllers: [MeController], providers: [LoginAudit] });
    audit = t.app.get(LoginAudit);
    sessions = t.app.get(SessionService);
    sessions.sessionEvents$.subscribe((event) => events.push(event));
  });
  afterAll(() => t.close());

  it('runs the open-session hook and emits the events of a login, for the session it hands out', async () => {
    events.length = 0;
    await loginAs(t.app, 'alice');
    expect(events.map((event) => event.type)).toEqual(['open-session', 'start-connected-process']);
    expect(audit.opened).toEqual([expect.objectContaining({ type: 'open-session', userId: 'alice', transport: 'http' })]);
    const [listed] = await sessions.listSessions('alice');
    expect(audit.opened[0]!.session).toBe(listed!.handle);
  });

  it('rejects with the hook’s error when a hook refuses the login, and leaves no session', async () => {
    await expect(loginAs(t.app, 'mallory')).rejects.toThrow('mallory may not log in');
    expect(await sessions.listSessions('mallory')).toEqual([]);
  });

  it('closes the oldest sessions past maxSessionsPerUser, as a login does', async () => {
    const capped = await startApp({ adapter: 'express', controllers: [MeController], policy: { maxSessionsPerUser: 1 } });
    try {
      const first = await loginAs(capped.app, 'bob');
      const second = await loginAs(capped.app, 'bob');
      const server = capped.app.getHttpServer();
      await request(server).get('/me').set('Cookie', first).expect(401);
      await request(server).get('/me').set('Cookie', second).expect(200, { user: 'bob' });
    } finally {
      await capped.close();
    }
  });
});

describe('loginAs on a RedisStore', () => {
  const redis = redisForFile();

  it('writes the session to Redis, where a second server on the same Redis reads it', async () => {
    const prefix = freshPrefix();
    const one = await startApp({
      adapter: 'express',
      controllers: [MeController],
      policy: { store: new RedisStore({ url: redis.url, prefix }) },
    });
    const two = await startApp({
      adapter: 'fastify',
      controllers: [MeController],
      policy: { store: new RedisStore({ url: redis.url, prefix }) },
    });
    try {
      const cookie = await loginAs(one.app, 'carol');
      await request(two.app.getHttpServer()).get('/me').set('Cookie', cookie).expect(200, { user: 'carol' });
      expect((await two.app.get(SessionService).listSessions('carol')).map((session) => session.userId)).toEqual(['carol']);
    } finally {
      await one.close();
      await two.close();
    }
  });
});

describe('loginAs with the store overridden in @nestjs/testing', () => {
  it('uses the store given to overrideProvider(SESSION_STORE), not the policy’s', async () => {
    const configured = new MemoryStore();
    const replacement = new MemoryStore();
    const moduleRef = await Test.createTestingModule({
      imports: [SessionModule.forRoot({ secret: SECRET, store: configured })],
      controllers: [MeController],
    })
      .overrideProvider(SESSION_STORE)
      .useValue(replacement)
      .compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    try {
      const cookie = await loginAs(app, 'dave');
      // Not listening: supertest starts the server on a free port for the request.
      await request(app.getHttpServer()).get('/me').set('Cookie', cookie).expect(200, { user: 'dave' });
      expect(await replacement.listUser('dave')).toHaveLength(1);
      expect(await configured.listUser('dave')).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('never opens the policy’s own store: a RedisStore whose Redis does not exist is not a failure', async () => {
    // Opened, it would reject ("could not connect to Redis") and fail app.init().
    const unreachable = new RedisStore({ url: `redis://127.0.0.1:${await freePort()}` });
    const moduleRef = await Test.createTestingModule({
      imports: [SessionModule.forRoot({ secret: SECRET, store: unreachable })],
      controllers: [MeController],
    })
      .overrideProvider(SESSION_STORE)
      .useValue(new MemoryStore())
      .compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    try {
      const cookie = await loginAs(app, 'erin');
      await request(app.getHttpServer()).get('/me').set('Cookie', cookie).expect(200, { user: 'erin' });
    } finally {
      await app.close();
    }
  });
});
