import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import type { SessionPolicy } from '../../lib/index.js';
import { storeKeyOf } from '../../lib/session/session-id.js';
import { RedisStore } from '../../lib/stores/redis/redis.store.js';
import { startApp, type AdapterName, type TestApp } from './app.js';
import { idOf } from './auth-helpers.js';
import { LoginController } from './auth.controller.js';
import { Browser } from './browser.js';
import { CartController } from './cart.controller.js';
import { LiveGateway } from './live.gateway.js';
import { NoteController } from './note.controller.js';
import { RevocationController } from './revocation.controller.js';
import { SessionsController } from './sessions.controller.js';
import { sessionSockets, type Ended, type SocketKind, type TestSocket } from './sockets.js';

/**
 * The routes of an app on a RedisStore in the Redis e2e specs:
 * - LoginController: POST /login {user}, POST /logout, GET /public → {user | null}
 * - NoteController: GET /me (@Connected) → {user, note}, POST /note {note} (persisted, session scope)
 * - CartController: POST /cart {item}, GET /cart → {cart} (persisted, browser scope)
 * - RevocationController: POST /disconnect-all (@Connected), POST /disconnect-user {user}
 * - SessionsController: GET /sessions (@Connected), POST /revoke {handle}
 */
export const REDIS_APP_CONTROLLERS = [LoginController, NoteController, CartController, RevocationController, SessionsController];

/** A prefix no other test uses, so that tests never see each other's keys. */
export function freshPrefix(): string {
  return `e2e${randomBytes(6).toString('hex')}:`;
}

/** A client for the test's own raw commands (SCAN, PTTL, SAVE), which never queues long and gives up quickly. */
export function adminClient(url: string): Redis {
  const admin = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => 100, commandTimeout: 5000 });
  admin.on('error', () => undefined);
  return admin;
}

/** The keys under `prefix`. SCAN is for the tests only: the store itself never scans. */
export async function keysUnder(admin: Redis, prefix: string): Promise<string[]> {
  const found = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of batch) found.add(key);
  } while (cursor !== '0');
  return [...found].sort();
}

/** Every key under `prefix` with its PTTL (-1: no TTL, -2: gone meanwhile). */
export async function ttlsUnder(admin: Redis, prefix: string): Promise<Array<{ key: string; pttl: number }>> {
  const keys = await keysUnder(admin, prefix);
  return Promise.all(keys.map(async (key) => ({ key, pttl: await admin.pttl(key) })));
}

/** The store key (the Redis session hash is `<prefix>s:<key>`) of the session in a browser's jar. */
export function storeKeyOfBrowser(browser: Browser, name = 'sid'): string {
  const value = browser.jar.get(name);
  if (value === undefined) throw new Error(`the browser has no '${name}' cookie`);
  return storeKeyOf(idOf(value));
}

/** A browser on another app with the same cookies (the same user agent going to another server). */
export function sameBrowserOn(browser: Browser, url: string): Browser {
  const other = new Browser(url, browser.extraHeaders);
  for (const [name, value] of browser.jar) other.jar.set(name, value);
  return other;
}

export interface RedisAppOptions {
  adapter: AdapterName;
  redisUrl: string;
  prefix: string;
  /** A WebSocket adapter of this kind, with the LiveGateway; none without. */
  sockets?: SocketKind;
  commandTimeoutMs?: number;
  policy?: Partial<SessionPolicy>;
}

export interface RedisApp {
  t: TestApp;
  store: RedisStore;
  adapter: AdapterName;
  sockets: SocketKind | undefined;
}

/** An app with the {@link REDIS_APP_CONTROLLERS} on its own RedisStore (own connections), listening on loopback. */
export async function startRedisApp(options: RedisAppOptions): Promise<RedisApp> {
  const store = new RedisStore({
    url: options.redisUrl,
    prefix: options.prefix,
    ...(options.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: options.commandTimeoutMs }),
  });
  const t = await startApp({
    adapter: options.adapter,
    controllers: REDIS_APP_CONTROLLERS,
    providers: options.sockets === undefined ? [] : [LiveGateway],
    policy: { ...options.policy, store },
    ...(options.sockets === undefined ? {} : { configure: sessionSockets(options.sockets) }),
  });
  return { t, store, adapter: options.adapter, sockets: options.sockets };
}

/** How long a promise took to settle, and how. */
export async function timed<T>(promise: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const start = performance.now();
  try {
    const value = await promise;
    return { ms: Math.round(performance.now() - start), value };
  } catch (error) {
    return { ms: Math.round(performance.now() - start), error };
  }
}

/** The socket's end, or a failure when it is still open after `ms`. */
export async function endWithin(socket: TestSocket, ms: number): Promise<Ended> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the ${socket.kind} socket was still open ${ms} ms later`)), ms);
  });
  try {
    return await Promise.race([socket.ended, late]);
  } finally {
    clearTimeout(timer);
  }
}
