/**
 * The invalidation window of the Redis near cache: two `RedisStore` instances, as two servers would hold them (each
 * with its own connections), on the benchmark's redis-server. After server A's `setField` resolves, server B's `get`
 * is polled (one `setImmediate` between reads) until it shows the new value; the time until then is the window.
 * Only the public store API is used (`open`, `create`, `get`, `setField`, `close`): without a near cache, B's first
 * read is a round trip to Redis and already fresh, so the window is that round trip.
 *
 * As a child (`node window.js`, env BENCH_REDIS_URL, BENCH_REDIS_STORE_MODULE, BENCH_REDIS_STORE_OPTIONS,
 * BENCH_WINDOW_WRITES) it prints `BENCH_RESULT {…}`; run under the line's Node like every other part.
 */
import { pathToFileURL } from 'node:url';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { SessionStore } from 'nestjs-connected';
import { env, loadRedisStore, redisStoreOptions } from './servers/shared.js';
import { announce, buildPath, exitWithParent, RESULT, runNode } from './support/children.js';
import type { BenchConfig } from './support/config.js';
import { quantile } from './support/load.js';
import { LOGIN_LIMITS, loginRecord, storeKey } from './support/records.js';
import type { RedisServer } from './support/redis.js';
import type { WindowResult } from './support/results.js';

/** A session-scoped data field, as `SessionService.set` writes it. */
const FIELD = 's:counter';
const WARM_UP_WRITES = 50;
/** Past this, B is taken never to have shown the write (a stale copy kept for good). */
const GIVE_UP_MS = 1000;

async function openStore(): Promise<SessionStore> {
  const { RedisStore } = await loadRedisStore(env('BENCH_REDIS_STORE_MODULE'));
  const store = new RedisStore({ ...redisStoreOptions(), url: env('BENCH_REDIS_URL'), prefix: 'bench-window:' });
  await store.open?.();
  return store;
}

/** Milliseconds from A's write resolving to B's first read that shows it, or undefined after GIVE_UP_MS. */
async function oneWindow(a: SessionStore, b: SessionStore, key: string, value: string): Promise<{ ms?: number; reads: number }> {
  if ((await a.setField(key, FIELD, value)) !== true) throw new Error('setField on server A found no session');
  const written = performance.now();
  for (let reads = 1; ; reads++) {
    const seen = (await b.get(key))?.data[FIELD];
    const elapsed = performance.now() - written;
    if (seen === value) return { ms: elapsed, reads };
    if (elapsed > GIVE_UP_MS) return { reads };
    await nextTurn();
  }
}

async function child(writes: number): Promise<void> {
  exitWithParent(undefined, false);
  const a = await openStore();
  const b = await openStore();
  try {
    const key = storeKey(0, `window-${process.pid}`);
    if (!(await a.create(key, loginRecord('window-user'), LOGIN_LIMITS))) throw new Error('create on server A refused');
    const windows: number[] = [];
    let firstReadFresh = 0;
    let neverSeen = 0;
    for (let i = 0; i < WARM_UP_WRITES + writes; i++) {
      // B reads first, so that it holds a copy (when it caches) that the write must take away.
      await b.get(key);
      await b.get(key);
      const { ms, reads } = await oneWindow(a, b, key, JSON.stringify(i));
      if (i < WARM_UP_WRITES) continue;
      if (ms === undefined) neverSeen++;
      else if (reads === 1) firstReadFresh++;
      windows.push(ms ?? GIVE_UP_MS);
    }
    const steady: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const started = performance.now();
      await b.get(key);
      steady.push(performance.now() - started);
    }
    const sorted = Float64Array.from(windows).sort();
    const result: WindowResult = {
      writes,
      storeOptions: redisStoreOptions(),
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      max: sorted[sorted.length - 1] ?? Number.NaN,
      mean: windows.reduce((sum, ms) => sum + ms, 0) / windows.length,
      firstReadFresh,
      neverSeen,
      steadyGetP50: quantile(Float64Array.from(steady).sort(), 0.5),
    };
    await a.destroy(key);
    announce(RESULT, result as unknown as Record<string, unknown>);
  } finally {
    await a.close?.();
    await b.close?.();
  }
}

/** The invalidation window section of a run, on the run's redis-server. */
export async function windowSection(config: BenchConfig, redis: RedisServer, log: (line: string) => void): Promise<WindowResult> {
  const result = await runNode<WindowResult>(buildPath('window.js'), {
    env: {
      BENCH_REDIS_URL: redis.url,
      BENCH_REDIS_STORE_MODULE: config.redisStoreModule,
      BENCH_WINDOW_WRITES: String(config.windowWrites),
    },
    label: 'window',
    timeoutMs: 10 * 60_000,
  });
  log(
    `window  ${result.writes} writes  p50 ${result.p50.toFixed(3)} ms  p99 ${result.p99.toFixed(3)} ms  max ${result.max.toFixed(3)} ms  ` +
      `fresh on B's first read ${result.firstReadFresh}/${result.writes}, never ${result.neverSeen}; steady get p50 ${result.steadyGetP50.toFixed(3)} ms`,
  );
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  child(Number(env('BENCH_WINDOW_WRITES'))).catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  });
}
