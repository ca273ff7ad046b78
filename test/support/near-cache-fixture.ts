import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { RedisStore, type RedisStoreOptions } from '../../lib/stores/redis/redis.store.js';
import type { SessionRecord } from '../../lib/stores/session-record.js';
import type { StoreLimits } from '../../lib/stores/session-store.js';
import { startRedisServer, type RedisServer } from './redis-server.js';

/**
 * What the near cache specs share: a redis-server per file, stores on it playing the application's servers, and
 * what a read costs as Redis itself counts it (`INFO commandstats`), never by watching the client.
 */

export const NO_LIMIT: StoreLimits = { maxAnonymous: Number.MAX_SAFE_INTEGER };
/** Commands the stores send on their own, whatever the test does: the heartbeat, and the test's own INFO. */
const BACKGROUND = new Set(['ping', 'info', 'client', 'subscribe']);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it holds; fails with `what` past the deadline. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Calls per command on `node`, the stores' background commands left out. */
async function commandCalls(node: Redis): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const line of (await node.info('commandstats')).split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (match !== null && !BACKGROUND.has(match[1]!.split('|')[0]!)) calls.set(match[1]!, Number(match[2]));
  }
  return calls;
}

/** The commands `action` cost on `nodes`, by name (background commands left out). */
export async function commandsOf(nodes: Redis[], action: () => Promise<unknown>): Promise<Record<string, number>> {
  const before = await Promise.all(nodes.map(commandCalls));
  await action();
  const after = await Promise.all(nodes.map(commandCalls));
  const delta: Record<string, number> = {};
  for (const [i, calls] of after.entries()) {
    for (const [name, count] of calls) {
      const added = count - (before[i]!.get(name) ?? 0);
      if (added > 0) delta[name] = (delta[name] ?? 0) + added;
    }
  }
  return delta;
}

export function freshPrefix(): string {
  return `n${randomBytes(6).toString('hex')}:`;
}

/**
 * Reads `key` on `store` until its near cache holds it (tracking may still be coming on after a reconnection, and
 * Redis be refused until a PING answers after an outage).
 */
export async function cachedOn(store: RedisStore, key: string): Promise<SessionRecord> {
  await eventually('the near cache to hold the session', async () => {
    await store.get(key).catch(() => undefined);
    return store.cached(key) !== undefined;
  });
  return store.cached(key)!;
}

/** The file's redis-server and stores on it, each closed after its test. */
export interface NearCacheFixture {
  readonly server: RedisServer;
  readonly admin: Redis;
  /** Runs after the current test (stores, clients, clusters it started). */
  later(cleanup: () => Promise<void> | void): void;
  /** An opened store ("a server" of the application). */
  openStore(options?: Partial<RedisStoreOptions>, prefix?: string): Promise<RedisStore>;
  /** A store on a client of the test's, named so that `CLIENT LIST` tells its connections apart. */
  openNamedStore(name: string, prefix: string): Promise<{ store: RedisStore; client: Redis }>;
  /** `CLIENT LIST` as records of its fields. */
  clients(): Promise<Array<Record<string, string>>>;
}

/** Starts one redis-server for the file (call at the top of the file). */
export function nearCacheFixture(): NearCacheFixture {
  let server: RedisServer | undefined;
  let admin: Redis | undefined;
  const cleanups: Array<() => Promise<void> | void> = [];
  beforeAll(async () => {
    server = await startRedisServer();
    admin = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    admin.on('error', () => undefined);
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(async () => {
    admin?.disconnect();
    await server?.stop();
  });
  const fixture: NearCacheFixture = {
    get server() {
      return server!;
    },
    get admin() {
      return admin!;
    },
    later: (cleanup) => void cleanups.push(cleanup),
    async openStore(options = {}, prefix = freshPrefix()) {
      const store = new RedisStore({ url: server!.url, prefix, ...options } as RedisStoreOptions);
      cleanups.push(() => store.close());
      await store.open();
      return store;
    },
    async openNamedStore(name, prefix) {
      const client = new Redis(server!.url, { connectionName: name, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
      client.on('error', () => undefined);
      cleanups.push(() => client.disconnect());
      const store = new RedisStore({ client, prefix });
      cleanups.push(() => store.close());
      await store.open();
      return { store, client };
    },
    async clients() {
      const list = (await admin!.client('LIST')) as string;
      return list
        .trim()
        .split('\n')
        .map((line) => Object.fromEntries(line.split(' ').map((field) => field.split('=', 2) as [string, string])));
    },
  };
  return fixture;
}
