import type { SessionStore } from '../../lib/index.js';
import { RedisStore } from '../../lib/stores/redis/redis.store.js';
import { ADAPTERS, startApp, startWithStore, type AdapterName, type AppOptions, type TestApp } from './app.js';
import { freshPrefix } from './redis-apps.js';
import { startRedisServer, type RedisServer } from './redis-server.js';

/** The stores a spec runs on: the in-memory default and a real Redis. */
export type StoreKind = 'memory' | 'redis';
export const STORE_KINDS: readonly StoreKind[] = ['memory', 'redis'];

/** Every adapter with every store, for `describe.each`. */
export const ADAPTER_STORE_CASES: Array<[AdapterName, StoreKind]> = ADAPTERS.flatMap((adapter) =>
  STORE_KINDS.map((kind): [AdapterName, StoreKind] => [adapter, kind]),
);

/** One redis-server for the whole spec file: started before its tests, stopped after them. Read `url` in tests. */
export function redisForFile(): { readonly url: string } {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });
  return {
    get url(): string {
      if (server === undefined) throw new Error('redisForFile: the server is not started yet (read url inside a test or hook)');
      return server.url;
    },
  };
}

/** An app on a new MemoryStore, or on a RedisStore of its own (own connections, a prefix no other test uses). */
export async function startOnStore(
  kind: StoreKind,
  redis: { readonly url: string },
  options: AppOptions,
): Promise<{ t: TestApp; store: SessionStore }> {
  if (kind === 'memory') return startWithStore(options);
  const store = new RedisStore({ url: redis.url, prefix: freshPrefix() });
  return { t: await startApp({ ...options, policy: { ...options.policy, store } }), store };
}
