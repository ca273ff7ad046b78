import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { SessionStoreHealthIndicator } from 'nestjs-connected/terminus';
import { RedisStore } from 'nestjs-connected/redis';
import request from 'supertest';
import { MemoryStore, type SessionStore } from '../../lib/index.js';
import { ADAPTERS, startApp, type AdapterName, type TestApp } from '../support/app.js';
import { CapturedLog } from '../support/captured-log.js';
import { FaultyStore } from '../support/lifecycle-helpers.js';
import { freshPrefix } from '../support/redis-apps.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

/** `GET /health`: the session store under its default key; `GET /health/named`: under the key `sessions`. */
@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly sessionStore: SessionStoreHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.sessionStore.isHealthy()]);
  }

  @Get('named')
  @HealthCheck()
  named() {
    return this.health.check([() => this.sessionStore.isHealthy('sessions')]);
  }
}

const STORE_TIMEOUT = 400;
/** Generous: the deadline fires between one and one and a quarter timeouts; the rest is a loaded machine's slack. */
const NOTHING_HANGS = STORE_TIMEOUT + 2000;

async function startHealthApp(adapter: AdapterName, store: SessionStore, log: CapturedLog): Promise<TestApp> {
  return startApp({
    adapter,
    imports: [TerminusModule],
    controllers: [HealthController],
    providers: [SessionStoreHealthIndicator],
    policy: { store, storeTimeout: STORE_TIMEOUT },
    configure: (app) => app.useLogger(log),
  });
}

const UP = { status: 'ok', info: { 'session-store': { status: 'up' } }, error: {}, details: { 'session-store': { status: 'up' } } };

describe.each(ADAPTERS)('SessionStoreHealthIndicator on %s', (adapter) => {
  it('is up on a MemoryStore, under the default key or the one given', async () => {
    const t = await startHealthApp(adapter, new MemoryStore(), new CapturedLog());
    try {
      await request(t.app.getHttpServer()).get('/health').expect(200, UP);
      const { body } = await request(t.app.getHttpServer()).get('/health/named').expect(200);
      expect(body.info).toEqual({ sessions: { status: 'up' } });
    } finally {
      await t.close();
    }
  });

  it('is down with a message, and no detail of the error, when the store rejects', async () => {
    const store = new FaultyStore();
    const log = new CapturedLog();
    const t = await startHealthApp(adapter, store, log);
    try {
      store.mode = 'reject';
      const { body } = await request(t.app.getHttpServer()).get('/health').expect(503);
      expect(body.error).toEqual({ 'session-store': { status: 'down', message: 'Session store call failed' } });
      expect(JSON.stringify(body)).not.toMatch(/injected fault|stack|\bat /);
      // The cause is in the application's log, once, from the library's store access.
      expect(log.errors.filter((line) => line.includes('injected fault in get'))).toHaveLength(1);
      store.mode = 'ok';
      await request(t.app.getHttpServer()).get('/health').expect(200, UP);
    } finally {
      await t.close();
    }
  });

  it('is down within storeTimeout when the store does not answer', async () => {
    const store = new FaultyStore();
    const t = await startHealthApp(adapter, store, new CapturedLog());
    try {
      store.mode = 'hang';
      const startedAt = Date.now();
      const { body } = await request(t.app.getHttpServer()).get('/health').expect(503);
      expect(Date.now() - startedAt).toBeLessThan(NOTHING_HANGS);
      expect(body.error).toEqual({
        'session-store': { status: 'down', message: `Session store did not answer within ${STORE_TIMEOUT} ms (storeTimeout)` },
      });
    } finally {
      store.mode = 'ok';
      await t.close();
    }
  });
});

describe('SessionStoreHealthIndicator on a real Redis', () => {
  let redis: RedisServer;
  let t: TestApp;
  const log = new CapturedLog();
  beforeAll(async () => {
    redis = await startRedisServer();
    t = await startHealthApp('express', new RedisStore({ url: redis.url, prefix: freshPrefix() }), log);
  });
  afterAll(async () => {
    redis.resume();
    await t?.close();
    await redis.stop();
  });

  it('is up while Redis answers', async () => {
    await request(t.app.getHttpServer()).get('/health').expect(200, UP);
  });

  it('is down within storeTimeout while Redis is paused (a 503 from Terminus), and up again after it resumes', async () => {
    redis.pause();
    try {
      const startedAt = Date.now();
      const { body } = await request(t.app.getHttpServer()).get('/health').expect(503);
      expect(Date.now() - startedAt).toBeLessThan(NOTHING_HANGS);
      expect(body.status).toBe('error');
      expect(body.error).toEqual({
        'session-store': { status: 'down', message: `Session store did not answer within ${STORE_TIMEOUT} ms (storeTimeout)` },
      });
      expect(JSON.stringify(body)).not.toContain(String(redis.port));
      // Told of the miss, the store fails fast: a second check answers at once, still down.
      const again = await request(t.app.getHttpServer()).get('/health').expect(503);
      expect(again.body.error['session-store'].status).toBe('down');
    } finally {
      redis.resume();
    }
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (status !== 200 && Date.now() < deadline) {
      status = (await request(t.app.getHttpServer()).get('/health')).status;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await request(t.app.getHttpServer()).get('/health').expect(200, UP);
    // What an operator reads: the library's line for the missed deadline, and Terminus's for the failed check.
    expect(log.errors).toEqual(
      expect.arrayContaining([
        `Store call get had no answer within ${STORE_TIMEOUT} ms (storeTimeout)`,
        expect.stringContaining('Health Check has failed!'),
      ]),
    );
  });
});
