import type { SessionInfo } from '../../lib/index.js';
import { ADAPTERS, type AdapterName } from '../support/app.js';
import { Browser } from '../support/browser.js';
import { waitUntil } from '../support/lifecycle-helpers.js';
import { ProcessFaults } from '../support/process-faults.js';
import { freshPrefix, sameBrowserOn } from '../support/redis-apps.js';
import { clientEventsOf, currentHandle, expectSessionEnd, login, startSseApp, type SseApp } from '../support/sse-apps.js';
import { SsePool, type SseConnection } from '../support/sse-client.js';
import { redisForFile } from '../support/store-kinds.js';
import { reportMeasurement } from '../support/measurement.js';

/**
 * Two application instances on one real Redis (own connections each, one key prefix): a stream open on instance A
 * ends with `session_end` `session_closed` when instance B closes its session (revoke, disconnectAll({ userId }),
 * logout). The delay from B's call returning to A's `session_end` is printed and held under a second.
 */
const redis = redisForFile();

/** The bound across instances: from B's answer to A's `session_end`. */
const ACROSS_INSTANCES_MS = 1000;

const other = (adapter: AdapterName): AdapterName => (adapter === 'express' ? 'fastify' : 'express');

describe.each(ADAPTERS)('SSE streams on %s instance A, closed from instance B on one Redis', (adapter: AdapterName) => {
  let a: SseApp;
  let b: SseApp;
  const pool = new SsePool(() => a.t.url);
  const faults = new ProcessFaults();
  let counter = 0;
  const unique = (what: string) => `sse-redis-${what}-${adapter}-${++counter}`;

  beforeAll(async () => {
    const prefix = freshPrefix();
    a = await startSseApp({ adapter, kind: 'redis', redisUrl: redis.url, prefix });
    b = await startSseApp({ adapter: other(adapter), kind: 'redis', redisUrl: redis.url, prefix });
  });
  beforeEach(() => faults.install());
  afterEach(async () => {
    await pool.closeAll();
    faults.uninstall();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  /** A live stream on A of the browser's session (a browser of A), registered as its client on A. */
  async function streamOnA(browser: Browser, handle: string, tag: string): Promise<SseConnection> {
    const stream = await pool.connect(`/sse/live?tag=${tag}`, { cookie: browser.cookieHeader() });
    expect({ status: stream.status, isStream: stream.isStream }).toEqual({ status: 200, isStream: true });
    await stream.next('hello');
    await a.events.waitFor((event) => event.type === 'client-connected' && event.session === handle);
    return stream;
  }

  /** A's stream got its session_end within the bound after B's call answered; A's client left, its producer stopped. */
  async function expectEndedFromB(what: string, stream: SseConnection, answeredAt: number, handle: string, tag: string): Promise<number> {
    const { event } = await expectSessionEnd(stream, 'session_closed');
    const delay = Math.round(event.at - answeredAt);
    reportMeasurement(`sse redis [A ${adapter}, B ${other(adapter)}]: ${what} on B → session_end on A after ${delay} ms`);
    expect({ what, delayMs: delay, underBound: delay < ACROSS_INSTANCES_MS }).toEqual({ what, delayMs: delay, underBound: true });
    await a.events.waitFor((e) => e.type === 'client-disconnected' && e.session === handle);
    expect(clientEventsOf(a.events.events, handle).map((e) => e.type)).toEqual(['client-connected', 'client-disconnected']);
    await waitUntil(() => a.journal.tornDown(tag) === 1, 10_000, 'the producer on A to be torn down');
    return delay;
  }

  it('revoke(handle) on B ends the stream of that session on A', async () => {
    const user = unique('revoke');
    const onA = await login(a.t.url, user);
    const keptOnA = await login(a.t.url, user);
    const handle = await currentHandle(onA);
    const keptHandle = await currentHandle(keptOnA);
    const tag = unique('tag');
    const stream = await streamOnA(onA, handle, tag);
    const kept = await streamOnA(keptOnA, keptHandle, unique('kept'));

    // The same user on B lists the session opened on A and revokes it.
    const onB = await login(b.t.url, user);
    const listed = (await onB.get('/sessions')).body as SessionInfo[];
    expect(listed.map((session) => session.handle)).toContain(handle);
    const reply = await onB.post('/revoke', { handle });
    const answeredAt = performance.now();
    expect(reply.status).toBe(201);
    await expectEndedFromB('revoke', stream, answeredAt, handle, tag);

    expect((await onA.get('/me')).status).toBe(401);
    expect(kept.end).toBeUndefined();
    expect(kept.named('session_end')).toEqual([]);
    expect((await keptOnA.get('/me')).body).toEqual({ user });
    expect(faults.describe()).toEqual([]);
  });

  it('disconnectAll({ userId }) on B ends every stream of the user on A, and no one else’s', async () => {
    const user = unique('all');
    const bystander = unique('bystander');
    const first = await login(a.t.url, user);
    const second = await login(a.t.url, user);
    const third = await login(a.t.url, bystander);
    const [h1, h2, h3] = [await currentHandle(first), await currentHandle(second), await currentHandle(third)];
    const [t1, t2] = [unique('t1'), unique('t2')];
    const s1 = await streamOnA(first, h1, t1);
    const s2 = await streamOnA(second, h2, t2);
    const s3 = await streamOnA(third, h3, unique('t3'));

    const reply = await new Browser(b.t.url).post('/disconnect-user', { user });
    const answeredAt = performance.now();
    expect(reply.body).toEqual({ closed: 2 });
    await expectEndedFromB('disconnectAll({ userId }) [1/2]', s1, answeredAt, h1, t1);
    await expectEndedFromB('disconnectAll({ userId }) [2/2]', s2, answeredAt, h2, t2);

    expect((await first.get('/me')).status).toBe(401);
    expect((await second.get('/me')).status).toBe(401);
    expect(s3.end).toBeUndefined();
    expect((await third.get('/me')).body).toEqual({ user: bystander });
    expect(faults.describe()).toEqual([]);
  });

  it('the same browser logging out on B ends its stream on A', async () => {
    const user = unique('logout');
    const onA = await login(a.t.url, user);
    const handle = await currentHandle(onA);
    const tag = unique('tag');
    const stream = await streamOnA(onA, handle, tag);

    const reply = await sameBrowserOn(onA, b.t.url).post('/logout');
    const answeredAt = performance.now();
    expect(reply.status).toBe(201);
    await expectEndedFromB('logout', stream, answeredAt, handle, tag);
    expect((await onA.get('/me')).status).toBe(401);
  });
});
