/**
 * How costs grow with the number of stored sessions (nestjs-connected + MemoryStore):
 *
 * (a) the guarded read over `sessions` logged-in sessions, in a server that holds only them and in one prefilled to
 *     BENCH_GROWTH_SESSIONS (servers/http-server.ts, BENCH_PREFILL);
 * (b) `disconnectAll` of a user with 10 sessions among 10,000 / 1,000,000 stored: `store.closeUser()` and
 *     `SessionService.disconnectAll({ userId })`, timed with performance.now(), median of BENCH_REPEATS;
 * (c) the expiry sweep of BENCH_SWEEP_SESSIONS sessions that expire in the same second: the MemoryStore's own
 *     once-a-second timer does it (no fake timers, no manual call), and a wrapper around the instance's `sweep`
 *     times that call; once on a bare store, once with the library's listener subscribed (SessionModule).
 *
 * (b) and (c) run in child processes: `node --expose-gc growth.js disconnect-all <stored> <repeats>` and
 * `node --expose-gc growth.js sweep <bare|app> <stored> <expiring> <repeats>`.
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { pathToFileURL } from 'node:url';
import { MemoryStore, SessionModule, SessionService } from 'nestjs-connected';
import { heapLimitMb } from './memory.js';
import { SECRET } from './servers/shared.js';
import { announce, buildPath, describe, exitWithParent, RESULT, runNode } from './support/children.js';
import type { BenchConfig } from './support/config.js';
import { checkAnswers, login } from './support/http.js';
import { interleave, median, SlicedCell } from './support/load.js';
import { fillUser, LOGIN_LIMITS, loginRecord, memoryStoreOptions, storeKey } from './support/records.js';
import type { DisconnectAllResult, GrowthReadResult, SweepResult } from './support/results.js';
import { startHttpServer, type RunningServer } from './support/servers.js';

const TARGET_USER = 'target-user';
const TARGET_SESSIONS = 10;

function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('growth.js needs node --expose-gc');
  gc();
  gc();
}

/** A Nest application context with SessionModule on `store`: the library's lifecycle subscribes to its removals. */
async function sessionApp(store: MemoryStore) {
  @Module({ imports: [SessionModule.forRoot({ secret: SECRET, store })] })
  class GrowthModule {}
  const app = await NestFactory.createApplicationContext(GrowthModule, { logger: false });
  await app.init();
  return app;
}

/** Fills `store` with `count` connected sessions over 10,000 users (not the target user). */
async function fillOthers(store: MemoryStore, count: number, now = Date.now()): Promise<void> {
  for (let i = 0; i < count; i++) await store.create(storeKey(i, 'others'), loginRecord(fillUser(i), now), LOGIN_LIMITS);
}

/** (b) in a child: closeUser and disconnectAll of a user with 10 sessions among `stored`. */
async function disconnectAllChild(stored: number, repeats: number): Promise<DisconnectAllResult> {
  const store = new MemoryStore(memoryStoreOptions(stored + TARGET_SESSIONS));
  const app = await sessionApp(store);
  const service = app.get(SessionService);
  await fillOthers(store, stored - TARGET_SESSIONS);
  let round = 0;
  // The target's sessions as logins would open them: with the user's current epoch (disconnectAll bumps it).
  const openTargetSessions = async () => {
    const epoch = await store.epochOf(TARGET_USER);
    for (let i = 0; i < TARGET_SESSIONS; i++) {
      await store.create(storeKey(round * TARGET_SESSIONS + i, 'target'), loginRecord(TARGET_USER, Date.now(), epoch), LOGIN_LIMITS);
    }
    round++;
    if (store.size !== stored) throw new Error(`the store holds ${store.size} sessions, not ${stored}`);
  };
  const storeRuns: number[] = [];
  const serviceRuns: number[] = [];
  let closed = 0;
  for (let r = 0; r < repeats + 1; r++) {
    // Repetition 0 of each is a warm-up (JIT), not reported.
    await openTargetSessions();
    collect();
    let started = performance.now();
    const removed = await store.closeUser(TARGET_USER);
    const storeMs = performance.now() - started;
    closed = removed.length;
    await openTargetSessions();
    collect();
    started = performance.now();
    const count = await service.disconnectAll({ userId: TARGET_USER });
    const serviceMs = performance.now() - started;
    if (count !== TARGET_SESSIONS || closed !== TARGET_SESSIONS)
      throw new Error(`closed ${closed} / ${count} sessions, not ${TARGET_SESSIONS}`);
    if (r > 0) {
      storeRuns.push(storeMs);
      serviceRuns.push(serviceMs);
    }
  }
  await app.close();
  return {
    stored,
    userSessions: TARGET_SESSIONS,
    store: { stored, runsMs: storeRuns, medianMs: median(storeRuns) },
    service: { stored, runsMs: serviceRuns, medianMs: median(serviceRuns) },
    closed,
  };
}

interface SweepTiming {
  expired: number;
  sweepMs: number;
  untilIdleMs: number;
}

/**
 * (c) in a child: `expiring` sessions (among `stored`) expire within one second; the store's own timer sweeps them.
 * Its `sweep` method is wrapped on the instance (the timer calls `this.sweep()`), so the call the timer makes is the
 * one timed; nothing else calls it.
 */
async function sweepChild(mode: 'bare' | 'app', stored: number, expiring: number, repeats: number): Promise<SweepResult> {
  const store = new MemoryStore(memoryStoreOptions(stored));
  const app = mode === 'app' ? await sessionApp(store) : undefined;
  await fillOthers(store, stored - expiring);
  let waiting: ((timing: SweepTiming) => void) | undefined;
  const original = store.sweep.bind(store);
  store.sweep = (now?: number) => {
    const started = performance.now();
    const expired = original(now);
    const sweepMs = performance.now() - started;
    if (expired > 0 && waiting !== undefined) {
      const done = waiting;
      waiting = undefined;
      // The listeners' asynchronous work (onDelete, events) runs in microtasks: setImmediate fires after them.
      setImmediate(() => done({ expired, sweepMs, untilIdleMs: performance.now() - started }));
    }
    return expired;
  };
  const timings: SweepTiming[] = [];
  for (let r = 0; r < repeats + 1; r++) {
    const fillStarted = Date.now();
    // Far enough ahead that the fill is over before it: 2 s plus 20 µs per session.
    const expiresAt = fillStarted + 2000 + Math.ceil(expiring / 50);
    for (let i = 0; i < expiring; i++) {
      await store.create(storeKey(r * expiring + i, 'expiring'), loginRecord(fillUser(i), fillStarted, 0, expiresAt), LOGIN_LIMITS);
    }
    if (Date.now() >= expiresAt) throw new Error('the fill took longer than its head start: the sweep would be split');
    collect();
    // The store's timer is unref'd: something must keep the process alive until it fires.
    const alive = setInterval(() => undefined, 60_000);
    const timing = await new Promise<SweepTiming>((resolve) => {
      waiting = resolve;
    });
    clearInterval(alive);
    if (r > 0) timings.push(timing);
    if (store.size !== stored - expiring) throw new Error(`after the sweep the store holds ${store.size}, not ${stored - expiring}`);
  }
  await app?.close();
  await store.close();
  const sweepMs = timings.map((t) => t.sweepMs);
  const expired = timings.map((t) => t.expired);
  if (mode === 'bare') return { stored, expiring, bare: { stored, runsMs: sweepMs, medianMs: median(sweepMs), expired } };
  const untilIdleMs = timings.map((t) => t.untilIdleMs);
  return {
    stored,
    expiring,
    app: { stored, runsMs: sweepMs, medianMs: median(sweepMs), expired, untilIdleMs, medianUntilIdleMs: median(untilIdleMs) },
  };
}

/**
 * (a): the read cell over `sessions` logins, in a store of only them and in one prefilled to `growthStored`: both
 * servers run at once and their slices alternate, so that the comparison is not at the mercy of when each ran.
 */
async function growthRead(config: BenchConfig, log: (line: string) => void): Promise<GrowthReadResult[]> {
  const sizes = [config.sessions, config.growthStored];
  const servers: RunningServer[] = [];
  try {
    for (const stored of sizes) {
      const prefill = stored - config.sessions;
      servers.push(
        await startHttpServer(
          'express-connected-memory',
          prefill > 0 ? { BENCH_PREFILL: String(prefill) } : {},
          [`--max-old-space-size=${heapLimitMb(stored)}`],
          30 * 60_000,
        ),
      );
    }
    const prepared = [];
    for (const server of servers) {
      const cookies = await login(server.url, config.sessions, { prefix: 'growth', expectCookie: true });
      const problems = await checkAnswers(server.url, cookies[0]!, true);
      const cell = new SlicedCell({ url: server.url, method: 'GET', path: '/read', cookies, connections: config.connections });
      prepared.push({ server, problems, cell });
    }
    await interleave(
      prepared.map((p) => p.cell),
      config.warmup,
      config.seconds,
      config.rounds,
    );
    return prepared.map(({ server, problems, cell }, i) => {
      const stored = sizes[i]!;
      const result = cell.result();
      const prefillMs = Number(server.ready['prefillMs'] ?? 0);
      log(
        `growth  read with ${String(stored).padStart(9)} stored  ${result.requestsPerSecond.toFixed(0).padStart(7)} req/s  ` +
          `p50 ${result.p50.toFixed(2)} ms  p99 ${result.p99.toFixed(2)} ms  non-2xx ${result.non2xx}` +
          (stored > config.sessions ? `  (prefill ${(prefillMs / 1000).toFixed(1)} s)` : ''),
      );
      return { stored, loggedIn: config.sessions, prefillMs, result, problems };
    });
  } finally {
    for (const server of servers) await server.stop();
  }
}

/** The growth section of a run. */
export async function growthSection(
  config: BenchConfig,
  log: (line: string) => void,
): Promise<{
  read: GrowthReadResult[];
  disconnectAll: DisconnectAllResult[];
  sweep: SweepResult[];
  problems: string[];
}> {
  const problems: string[] = [];
  const guard = async <T>(what: string, task: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await task();
    } catch (error) {
      const message = describe(error);
      problems.push(`${what}: ${message}`);
      log(`growth  ${what} FAILED: ${message.split('\n')[0]}`);
      return undefined;
    }
  };
  const read = (await guard('read', () => growthRead(config, log))) ?? [];

  const disconnectAll: DisconnectAllResult[] = [];
  for (const stored of config.disconnectSizes) {
    const result = await guard(`disconnectAll ${stored}`, () =>
      runNode<DisconnectAllResult>(buildPath('growth.js'), {
        nodeArgs: ['--expose-gc', `--max-old-space-size=${heapLimitMb(stored)}`],
        args: ['disconnect-all', String(stored), String(config.repeats)],
        label: `growth disconnect-all ${stored}`,
      }),
    );
    if (result === undefined) continue;
    disconnectAll.push(result);
    log(
      `growth  disconnectAll, 10 sessions among ${String(stored).padStart(9)}  closeUser ${result.store.medianMs.toFixed(3)} ms  ` +
        `SessionService ${result.service?.medianMs.toFixed(3)} ms`,
    );
  }

  const sweep: SweepResult[] = [];
  const sweepRepeats = Math.min(config.repeats, 3);
  for (const stored of config.sweepStored) {
    if (stored < config.sweepExpiring) continue;
    const bare = await guard(`sweep bare ${stored}`, () =>
      runNode<SweepResult>(buildPath('growth.js'), {
        nodeArgs: ['--expose-gc', `--max-old-space-size=${heapLimitMb(stored)}`],
        args: ['sweep', 'bare', String(stored), String(config.sweepExpiring), String(sweepRepeats)],
        label: `growth sweep bare ${stored}`,
      }),
    );
    const app = await guard(`sweep app ${stored}`, () =>
      runNode<SweepResult>(buildPath('growth.js'), {
        nodeArgs: ['--expose-gc', `--max-old-space-size=${heapLimitMb(stored)}`],
        args: ['sweep', 'app', String(stored), String(config.sweepExpiring), String(sweepRepeats)],
        label: `growth sweep app ${stored}`,
      }),
    );
    if (bare?.bare === undefined && app?.app === undefined) continue;
    const result: SweepResult = { stored, expiring: config.sweepExpiring };
    if (bare?.bare !== undefined) result.bare = bare.bare;
    if (app?.app !== undefined) result.app = app.app;
    sweep.push(result);
    log(
      `growth  sweep of ${config.sweepExpiring} expiring among ${String(stored).padStart(9)}  bare ${result.bare?.medianMs.toFixed(1) ?? '-'} ms` +
        (result.app
          ? `  with SessionModule ${result.app.medianMs.toFixed(1)} ms (until idle ${result.app.medianUntilIdleMs.toFixed(1)} ms)`
          : ''),
    );
  }
  return { read, disconnectAll, sweep, problems };
}

async function childMain(argv: string[]): Promise<void> {
  exitWithParent(undefined, false);
  const [mode, ...rest] = argv;
  let result: unknown;
  if (mode === 'disconnect-all') {
    result = await disconnectAllChild(Number(rest[0]), Number(rest[1] ?? 5));
  } else if (mode === 'sweep' && (rest[0] === 'bare' || rest[0] === 'app')) {
    result = await sweepChild(rest[0], Number(rest[1]), Number(rest[2]), Number(rest[3] ?? 3));
  } else {
    throw new Error('usage: growth.js disconnect-all <stored> <repeats> | sweep <bare|app> <stored> <expiring> <repeats>');
  }
  announce(RESULT, result as Record<string, unknown>);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  childMain(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  });
}
