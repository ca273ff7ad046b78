import { MemoryStore, type SessionEvent, type SessionPolicy, type SessionStore } from '../../lib/index.js';
import { RedisStore } from '../../lib/stores/redis/redis.store.js';
import { startApp, type AdapterName, type TestApp } from './app.js';
import { AuthController } from './auth.controller.js';
import { Browser } from './browser.js';
import { EventRecorder } from './lifecycle-helpers.js';
import { RevocationController } from './revocation.controller.js';
import { freshPrefix } from './redis-apps.js';
import { SessionsController } from './sessions.controller.js';
import { SSE_WAIT_MS, type SseConnection, type SseEnd, type SseEvent } from './sse-client.js';
import { SseController, SseHooks, SseJournal } from './sse-controller.js';
import type { StoreKind } from './store-kinds.js';

/**
 * The routes of an SSE spec's app:
 * - AuthController: POST /login {user}, POST /logout, GET /me (@Connected) → {user}, GET /public → {user | null}
 * - SessionsController: GET /sessions (@Connected) → listSessions, POST /revoke {handle} (@Connected)
 * - RevocationController: POST /disconnect-all (@Connected), POST /disconnect-user {user} (no guard)
 * - SseController: the /sse/* streams (see sse-controller.ts)
 */
export const SSE_CONTROLLERS = [AuthController, SessionsController, RevocationController, SseController];
export const SSE_PROVIDERS = [SseJournal, SseHooks];

/** An app of the SSE specs, what it recorded, and every session event since it started. */
export interface SseApp {
  t: TestApp;
  store: SessionStore;
  journal: SseJournal;
  hooks: SseHooks;
  events: EventRecorder;
  close(): Promise<void>;
}

function wrap(t: TestApp, store: SessionStore): SseApp {
  const events = new EventRecorder(t.app);
  return {
    t,
    store,
    journal: t.app.get(SseJournal),
    hooks: t.app.get(SseHooks),
    events,
    close: async () => {
      events.stop();
      await t.close();
    },
  };
}

export interface SseAppOptions {
  adapter: AdapterName;
  policy?: Partial<SessionPolicy>;
  /** The store: a new MemoryStore by default; `redis` needs `redisUrl`. A `policy.store` wins over both. */
  kind?: StoreKind;
  redisUrl?: string;
  /** The Redis key prefix (a fresh one per app unless two apps must share their sessions). */
  prefix?: string;
}

/** An app with the {@link SSE_CONTROLLERS} on a MemoryStore or a RedisStore of its own, listening on loopback. */
export async function startSseApp(options: SseAppOptions): Promise<SseApp> {
  let store: SessionStore;
  if (options.policy?.store !== undefined) store = options.policy.store;
  else if (options.kind === 'redis') {
    if (options.redisUrl === undefined) throw new Error('startSseApp: a Redis app needs redisUrl');
    store = new RedisStore({ url: options.redisUrl, prefix: options.prefix ?? freshPrefix() });
  } else store = new MemoryStore();
  const t = await startApp({
    adapter: options.adapter,
    controllers: SSE_CONTROLLERS,
    providers: SSE_PROVIDERS,
    policy: { ...options.policy, store },
  });
  return wrap(t, store);
}

/** Logs a new browser in as `user`. */
export async function login(url: string, user: string): Promise<Browser> {
  const browser = new Browser(url);
  const reply = await browser.post('/login', { user });
  if (reply.status !== 201) throw new Error(`login of ${user} failed: ${reply.status} ${reply.text}`);
  return browser;
}

/** The handle (as in listSessions and in events) of the browser's current session. */
export async function currentHandle(browser: Browser): Promise<string> {
  const reply = await browser.get('/sessions');
  if (reply.status !== 200) throw new Error(`GET /sessions answered ${reply.status} ${reply.text}`);
  const current = (reply.body as Array<{ handle: string; current: boolean }>).filter((session) => session.current);
  if (current.length !== 1) throw new Error(`expected one current session, got ${JSON.stringify(reply.body)}`);
  return current[0]!.handle;
}

/** The client events (`client-connected`, `client-disconnected`) recorded for one session, in order. */
export function clientEventsOf(events: readonly SessionEvent[], handle: string): SessionEvent[] {
  return events.filter((event) => (event.type === 'client-connected' || event.type === 'client-disconnected') && event.session === handle);
}

/**
 * The client events (of any session, or of none) recorded from index `from` on, for "nobody's client" assertions;
 * the `client-disconnected` of a client that connected before `from` (an earlier test's stream) is left out.
 */
export function clientEventsSince(events: readonly SessionEvent[], from: number): SessionEvent[] {
  const earlier = new Set(events.slice(0, from).flatMap((event) => (event.type === 'client-connected' ? [event.session] : [])));
  return events
    .slice(from)
    .filter(
      (event) =>
        event.type === 'client-connected' ||
        (event.type === 'client-disconnected' && !(event.session !== undefined && earlier.has(event.session))),
    );
}

/** The exact data of the last event of a stream whose session closed. */
export const SESSION_END_DATA = {
  session_closed: '{"reason":"session_closed"}',
  session_expired: '{"reason":"session_expired"}',
} as const;

/**
 * The stream gets `session_end` with exactly `{"reason": reason}` as its last event, then its body ends (a clean
 * end, not a reset). Returns the event (with the time it arrived) and the end.
 */
export async function expectSessionEnd(
  stream: SseConnection,
  reason: keyof typeof SESSION_END_DATA,
  timeoutMs = SSE_WAIT_MS,
): Promise<{ event: SseEvent; end: SseEnd }> {
  const event = await stream.next('session_end', timeoutMs);
  const end = await stream.endWithin(timeoutMs);
  expect({
    data: event.data,
    sessionEnds: stream.named('session_end').length,
    last: stream.events.at(-1)?.event,
    end: end.how,
  }).toEqual({ data: SESSION_END_DATA[reason], sessionEnds: 1, last: 'session_end', end: 'end' });
  return { event, end };
}
