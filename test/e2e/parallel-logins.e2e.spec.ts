import { Body, Controller, Post } from '@nestjs/common';
import { Connected, SessionKey, SessionService, type SessionStore } from '../../lib/index.js';
import type { SessionRecord } from '../../lib/stores/session-record.js';
import type { TestApp } from '../support/app.js';
import { Browser } from '../support/browser.js';
import { EventRecorder } from '../support/lifecycle-helpers.js';
import { REDIS_APP_CONTROLLERS, storeKeyOfBrowser } from '../support/redis-apps.js';
import { ADAPTER_STORE_CASES, redisForFile, startOnStore } from '../support/store-kinds.js';

/**
 * Logins of one user racing each other past `maxSessionsPerUser`, over real HTTP on Express and Fastify, on a
 * MemoryStore and on a real Redis. However the logins interleave, the user ends with exactly the bound's worth of
 * sessions, the newest; every other one is closed once, and a login's session is closed only for newer ones.
 */

const LOGINS = 20;
const MAX = 5;
/** Races per test: one race may happen to run in an order that hides a fault, five seldom all do. */
const ROUNDS = 5;

/** Every onDelete run of this file, as the value it was given. */
const deleted: string[] = [];
const MEMORY_VALUE = new SessionKey<string>('parallel.mem', { onDelete: (value) => void deleted.push(value) });
const PERSISTED_VALUE = new SessionKey<string>('parallel.per', { persist: true, onDelete: (value) => void deleted.push(value) });

/** `POST /mark {tag}` (@Connected): sets a value of each kind, `<tag>/mem` and `<tag>/per`, each with an onDelete. */
@Controller()
class MarkController {
  constructor(private readonly sessions: SessionService) {}

  @Connected()
  @Post('mark')
  async mark(@Body() body: { tag: string }) {
    await this.sessions.set(MEMORY_VALUE, `${body.tag}/mem`);
    await this.sessions.set(PERSISTED_VALUE, `${body.tag}/per`);
    return { ok: true };
  }
}

const redis = redisForFile();

describe.each(ADAPTER_STORE_CASES)('parallel logins past maxSessionsPerUser on %s with a %s store', (adapter, kind) => {
  let t: TestApp;
  let store: SessionStore;
  let sessions: SessionService;

  beforeAll(async () => {
    const policy = { maxSessionsPerUser: MAX };
    ({ t, store } = await startOnStore(kind, redis, { adapter, controllers: [...REDIS_APP_CONTROLLERS, MarkController], policy }));
    sessions = t.app.get(SessionService);
  });

  afterAll(() => t?.close());

  let users = 0;
  const newUser = () => `racer-${adapter}-${kind}-${++users}`;

  it(`${ROUNDS} races of ${LOGINS} logins each leave exactly the ${MAX} newest sessions; every other one closes once`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const user = newUser();
      /** The records of the user's sessions the store removed, as it reported them. */
      const removed = new Map<string, SessionRecord>();
      const off = store.subscribe(({ key, record }) => {
        if (record?.userId === user) removed.set(key, record);
      });
      const events = new EventRecorder(t.app);
      try {
        const browsers = Array.from({ length: LOGINS }, () => new Browser(t.url));
        const replies = await Promise.all(browsers.map((browser) => browser.post('/login', { user })));
        expect(replies.map((reply) => reply.status)).toEqual(Array<number>(LOGINS).fill(201));

        const live = await sessions.listSessions(user);
        expect(live).toHaveLength(MAX);
        const ofUser = (type: string) => events.events.filter((event) => event.type === type && event.userId === user);
        const opened = ofUser('open-session').map((event) => event.session!);
        const closed = ofUser('post-close-session');
        expect(closed.every((event) => 'reason' in event && event.reason === 'max-sessions')).toBe(true);
        const closedKeys = closed.map((event) => event.session!);
        // Each session closed once, and only as many as the bound asks.
        expect(new Set(closedKeys).size).toBe(closedKeys.length);
        expect(closedKeys).toHaveLength(LOGINS - MAX);
        expect([...closedKeys, ...live.map((session) => session.handle)].sort()).toEqual([...opened].sort());

        // The newest stay: no closed session was created after one that stays.
        const closedCreated = closedKeys.map((key) => removed.get(key)?.createdAt ?? Number.NaN);
        const liveCreated = live.map((session) => session.createdAt.getTime());
        expect(Math.min(...liveCreated)).toBeGreaterThanOrEqual(Math.max(...closedCreated));

        // A login that answered has a working session unless newer logins closed it; none works with a closed one.
        const liveKeys = new Set(live.map((session) => session.handle));
        const outcomes = await Promise.all(
          browsers.map(async (browser) => {
            const key = browser.jar.has('sid') ? storeKeyOfBrowser(browser) : undefined;
            const me = await browser.get('/me');
            return { status: me.status, live: key !== undefined && liveKeys.has(key) };
          }),
        );
        for (const outcome of outcomes) expect(outcome).toEqual({ status: outcome.live ? 200 : 401, live: outcome.live });
        expect(outcomes.filter((outcome) => outcome.live)).toHaveLength(MAX);
      } finally {
        events.stop();
        off();
      }
    }
  });

  it('a login past the bound announces the oldest session, closes it, runs its values’ onDelete once, then says it closed', async () => {
    const user = newUser();
    const browsers = Array.from({ length: MAX }, () => new Browser(t.url));
    for (const [i, browser] of browsers.entries()) {
      expect((await browser.post('/login', { user })).status).toBe(201);
      expect((await browser.post('/mark', { tag: `${user}-${i}` })).status).toBe(201);
    }
    const oldest = storeKeyOfBrowser(browsers[0]!);
    const events = new EventRecorder(t.app);
    deleted.length = 0;
    try {
      const late = new Browser(t.url);
      expect((await late.post('/login', { user })).status).toBe(201);
      const closes = events.events.filter((event) => event.type === 'pre-close-session' || event.type === 'post-close-session');
      expect(closes.map((event) => [event.type, event.session, 'reason' in event ? event.reason : undefined])).toEqual([
        ['pre-close-session', oldest, 'max-sessions'],
        ['post-close-session', oldest, 'max-sessions'],
      ]);
      expect(deleted.sort()).toEqual([`${user}-0/mem`, `${user}-0/per`]);
      expect((await browsers[0]!.get('/me')).status).toBe(401);
      for (const browser of [...browsers.slice(1), late]) expect((await browser.get('/me')).status).toBe(200);
    } finally {
      events.stop();
    }
  });
});
