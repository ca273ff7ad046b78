/**
 * Heap bytes per idle connected session: nestjs-connected's MemoryStore, express-session's MemoryStore and a bare
 * `Map<string, { userId }>` (the floor), at each size of BENCH_MEMORY_SIZES, each in a fresh child process run with
 * `--expose-gc`: `heapUsed + arrayBuffers` after `gc()` before and after filling, divided by the count.
 *
 * As a child: `node --expose-gc memory.js <kind> <count>` prints `BENCH_RESULT {…}`.
 */
import session from 'express-session';
import { pathToFileURL } from 'node:url';
import { MemoryStore } from 'nestjs-connected';
import { announce, buildPath, exitWithParent, RESULT, runNode } from './support/children.js';
import type { BenchConfig } from './support/config.js';
import { ABSOLUTE_TIMEOUT_MS, fillUser, fresh, LOGIN_LIMITS, loginRecord, memoryStoreOptions, storeKey } from './support/records.js';
import type { MemoryResult } from './support/results.js';

const KINDS = {
  connected: 'nestjs-connected MemoryStore',
  'express-session': 'express-session MemoryStore',
  map: 'Map<string, { userId }>',
} as const;
type Kind = keyof typeof KINDS;

/**
 * Memory after full collections (several: weak and finalizable objects take more than one): the JS heap plus
 * ArrayBuffer contents, which live outside it (MemoryStore keeps its numbers in typed arrays; leaving them out would
 * flatter it).
 */
function settledHeap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('memory.js needs node --expose-gc');
  for (let i = 0; i < 4; i++) gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

/** Fills one store with `count` sessions; resolves something that keeps it reachable until the second reading. */
async function fill(kind: Kind, count: number): Promise<{ keep: unknown; close: () => Promise<void> }> {
  const now = Date.now();
  switch (kind) {
    case 'connected': {
      // As a login writes it: create(key, record, limits) with the record of SessionOpener.create().
      const store = new MemoryStore(memoryStoreOptions(count));
      for (let i = 0; i < count; i++) await store.create(storeKey(i), loginRecord(fillUser(i), now), LOGIN_LIMITS);
      if (store.size !== count) throw new Error(`MemoryStore holds ${store.size} sessions, not ${count}`);
      return { keep: store, close: () => store.close() };
    }
    case 'express-session': {
      // As express-session saves a logged-in session: store.set(sid, session) with its Cookie object and the user id.
      const store = new session.MemoryStore();
      // express-session's Cookie takes its options (its types say it takes none).
      const Cookie = session.Cookie as unknown as new (options: object) => session.Cookie;
      const cookie = { path: '/', httpOnly: true, secure: false, sameSite: 'lax' as const, maxAge: ABSOLUTE_TIMEOUT_MS };
      for (let i = 0; i < count; i++) {
        const data = { cookie: new Cookie(cookie), userId: fillUser(i) };
        store.set(storeKey(i), data as unknown as session.SessionData);
      }
      return { keep: store, close: async () => {} };
    }
    case 'map': {
      const map = new Map<string, { userId: string }>();
      for (let i = 0; i < count; i++) map.set(storeKey(i), { userId: fillUser(i) });
      return { keep: map, close: async () => {} };
    }
  }
}

async function child(kind: Kind, count: number): Promise<void> {
  exitWithParent(undefined, false);
  // Load everything a fill touches (modules, JIT, the hash) before the first reading.
  await fill(kind, 1000).then((warm) => warm.close());
  fresh('warm-up');
  const heapBefore = settledHeap();
  const started = performance.now();
  const filled = await fill(kind, count);
  const fillMs = performance.now() - started;
  const heapAfter = settledHeap();
  const result: MemoryResult = {
    store: KINDS[kind],
    kind,
    sessions: count,
    heapBefore,
    heapAfter,
    bytesPerSession: (heapAfter - heapBefore) / count,
    fillMs,
  };
  // Still reachable here, so the second reading counted it.
  if (filled.keep === undefined) throw new Error('unreachable');
  await filled.close();
  announce(RESULT, result as unknown as Record<string, unknown>);
}

/** The memory section of a run: one child per (size, store), the Map floor first. */
export async function memorySection(config: BenchConfig, log: (line: string) => void): Promise<MemoryResult[]> {
  const results: MemoryResult[] = [];
  for (const count of config.memorySizes) {
    let floor: number | undefined;
    for (const kind of ['map', 'connected', 'express-session'] as Kind[]) {
      const result = await runNode<MemoryResult>(buildPath('memory.js'), {
        nodeArgs: ['--expose-gc', `--max-old-space-size=${heapLimitMb(count)}`],
        args: [kind, String(count)],
        label: `memory ${kind} ${count}`,
      });
      if (kind === 'map') floor = result.bytesPerSession;
      if (floor !== undefined) result.ratioToFloor = result.bytesPerSession / floor;
      log(
        `memory  ${KINDS[kind].padEnd(30)} ${String(count).padStart(9)} sessions  ${result.bytesPerSession.toFixed(0).padStart(6)} B/session`,
      );
      results.push(result);
    }
  }
  return results;
}

/** Old-space limit for a child holding `count` sessions (about 1.2 KB each at most, with room to spare). */
export function heapLimitMb(count: number): number {
  return Math.max(2048, Math.ceil((count * 3000) / 1_048_576) + 1024);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [kind, count] = process.argv.slice(2);
  if (kind === undefined || !(kind in KINDS) || !Number.isInteger(Number(count))) {
    console.error('usage: node --expose-gc memory.js <connected|express-session|map> <count>');
    process.exit(2);
  }
  child(kind as Kind, Number(count)).catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  });
}
