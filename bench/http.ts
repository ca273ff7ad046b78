/**
 * The HTTP matrix: every variant of a framework runs at once, each in its own process, and every cell is measured in
 * slices that alternate between them (support/load.ts `interleave`). On a shared 2-core machine the speed drifts by
 * 10–20% from one minute to the next; measured one after the other, a variant's ratio to the ceiling would say more
 * about when it ran than about the library.
 */
import { VARIANTS, type Framework, type VariantSpec } from './servers/shared.js';
import { describe } from './support/children.js';
import type { BenchConfig } from './support/config.js';
import { checkAnswers, login, probe } from './support/http.js';
import { interleave, SlicedCell } from './support/load.js';
import { processCpuUs, type CpuReading } from './support/cpu.js';
import type { RedisServer } from './support/redis.js';
import type { CellName, Results, VariantResult } from './support/results.js';
import { startHttpServer, type RunningServer } from './support/servers.js';

export interface RedisContext {
  server?: RedisServer;
  /** Why Redis variants cannot run, if they cannot. */
  unavailable?: string;
  /** Why the nestjs-connected Redis variants cannot run (RedisStore not importable), if they cannot. */
  storeUnavailable?: string;
}

export const CELLS: Array<{ name: CellName; method: 'GET' | 'POST'; path: string; many: boolean }> = [
  { name: 'read-1', method: 'GET', path: '/read', many: false },
  { name: 'write-1', method: 'POST', path: '/write', many: false },
  { name: 'read-many', method: 'GET', path: '/read', many: true },
  { name: 'write-many', method: 'POST', path: '/write', many: true },
];

/** A variant whose server is up, logged in and checked. */
interface Running {
  readonly spec: VariantSpec;
  readonly result: VariantResult;
  readonly server: RunningServer;
  readonly single: string[];
  readonly many: string[];
  readonly guarded: boolean;
}

type Log = (line: string) => void;

function tag(spec: VariantSpec): string {
  return `http    ${spec.id.padEnd(26)}`;
}

/** The variants of BENCH_VARIANTS with their frameworks' ceilings, or all of them. */
function selectedVariants(config: BenchConfig): VariantSpec[] {
  const wanted = config.variants;
  if (wanted === undefined) return [...VARIANTS];
  for (const id of wanted) if (!VARIANTS.some((v) => v.id === id)) throw new Error(`BENCH_VARIANTS: unknown variant '${id}'`);
  const frameworks = new Set(VARIANTS.filter((v) => wanted.includes(v.id)).map((v) => v.framework));
  return VARIANTS.filter((v) => wanted.includes(v.id) || (v.library === 'ceiling' && frameworks.has(v.framework)));
}

/** Starts, logs in and checks one variant; a variant that cannot run comes back without a server. */
async function start(spec: VariantSpec, config: BenchConfig, redis: RedisContext, log: Log): Promise<VariantResult | Running> {
  const result: VariantResult = { id: spec.id, framework: spec.framework, label: spec.label, status: 'ok', problems: [], cells: [] };
  if (spec.store === 'redis') {
    const reason = redis.unavailable ?? (spec.library === 'nestjs-connected' ? redis.storeUnavailable : undefined);
    if (reason !== undefined) {
      log(`${tag(spec)} pending: ${reason}`);
      return { ...result, status: 'pending', reason };
    }
  }
  const env: Record<string, string> = { BENCH_REDIS_STORE_MODULE: config.redisStoreModule };
  if (redis.server !== undefined) env['BENCH_REDIS_URL'] = redis.server.url;
  let server: RunningServer;
  try {
    server = await startHttpServer(spec.id, env);
  } catch (error) {
    log(`${tag(spec)} FAILED to start: ${describe(error).split('\n')[0]}`);
    return { ...result, status: 'failed', reason: describe(error) };
  }
  try {
    const guarded = spec.library !== 'ceiling' && spec.library !== 'async-context';
    const single = await login(server.url, 1, { prefix: 'solo', expectCookie: guarded });
    const many = await login(server.url, config.sessions, { prefix: 'user', expectCookie: guarded });
    result.problems = await checkAnswers(server.url, single[0]!, guarded);
    for (const problem of result.problems) log(`${tag(spec)} CHECK FAILED: ${problem}`);
    return { spec, result, server, single, many, guarded };
  } catch (error) {
    await server.stop();
    log(`${tag(spec)} FAILED: ${describe(error).split('\n')[0]}`);
    return { ...result, status: 'failed', reason: describe(error) };
  }
}

const us = (value: number | undefined) => (value === undefined ? '–' : value.toFixed(1));

/**
 * The CPU counters of one variant's slices: the server's own `process.cpuUsage()` (asked through its stdin), and
 * redis-server's from /proc for the Redis variants. The other servers are idle meanwhile, so redis-server's work in
 * a slice is this variant's.
 */
function cpuProbe(running: Running, redis: RedisContext): () => Promise<CpuReading> {
  const redisPid = running.spec.store === 'redis' ? redis.server?.pid : undefined;
  return async () => {
    const reply = await running.server.child.query('cpu');
    const reading: CpuReading = { serverUs: Number(reply['total']) };
    if (redisPid !== undefined) reading.redisUs = processCpuUs(redisPid);
    return reading;
  };
}

/** After the write cells: the last write over many sessions reached every cookie, the last one included. */
async function checkWrites(running: Running, log: Log): Promise<void> {
  if (!running.guarded) return;
  for (const cookie of [running.many[0]!, running.many[running.many.length - 1]!]) {
    const read = await probe(`${running.server.url}/read`, { headers: { cookie } });
    const counter = Number(/"counter":(\d+)/.exec(read.body)?.[1] ?? 0);
    if (read.status !== 200 || !(counter > 0)) {
      const problem = `after write-many, a session reads ${read.status} ${read.body.slice(0, 80)}`;
      running.result.problems.push(problem);
      log(`${tag(running.spec)} CHECK FAILED: ${problem}`);
    }
  }
}

/** One framework's variants, side by side. */
async function benchFramework(specs: VariantSpec[], config: BenchConfig, redis: RedisContext, log: Log): Promise<VariantResult[]> {
  // Once per framework, before any of its Redis variants logs in (they run at the same time, on one Redis).
  if (specs.some((spec) => spec.store === 'redis')) await redis.server?.flush();
  const results: VariantResult[] = [];
  const running: Running[] = [];
  try {
    for (const spec of specs) {
      const started = await start(spec, config, redis, log);
      if ('server' in started) {
        running.push(started);
        results.push(started.result);
      } else {
        results.push(started);
      }
    }
    for (const cell of CELLS.filter((c) => config.cells.includes(c.name))) {
      const measured = running.map(
        (r) =>
          new SlicedCell({
            url: r.server.url,
            method: cell.method,
            path: cell.path,
            cookies: cell.many ? r.many : r.single,
            connections: config.connections,
            cpu: cpuProbe(r, redis),
          }),
      );
      await interleave(measured, config.warmup, config.seconds, config.rounds);
      running.forEach((r, i) => {
        const result = measured[i]!.result();
        r.result.cells.push({
          name: cell.name,
          method: cell.method,
          path: cell.path,
          sessions: (cell.many ? r.many : r.single).length,
          result,
        });
        log(
          `${tag(r.spec)} ${cell.name.padEnd(10)} ${result.requestsPerSecond.toFixed(0).padStart(7)} req/s  ` +
            `p50 ${result.p50.toFixed(2).padStart(6)} ms  p99 ${result.p99.toFixed(2).padStart(6)} ms  ` +
            `cpu ${us(result.serverCpuUsPerRequest)} µs/req` +
            (result.redisCpuUsPerRequest === undefined ? '' : ` (redis-server ${us(result.redisCpuUsPerRequest)})`) +
            `  slices ${(result.slices ?? []).map((rate) => rate.toFixed(0)).join('/')}` +
            (result.non2xx + result.errors > 0 ? `  NON-2XX ${result.non2xx} ERRORS ${result.errors}` : ''),
        );
      });
    }
    if (config.cells.includes('write-many')) for (const r of running) await checkWrites(r, log);
  } finally {
    for (const r of running) await r.server.stop();
  }
  return results;
}

/** Each cell's req/s over its framework's ceiling's, and the ceiling's server CPU per request over its own, in this run. */
function addRatios(variants: VariantResult[]): void {
  for (const variant of variants) {
    const ceiling = variants.find((v) => v.framework === variant.framework && v.id.endsWith('-ceiling'));
    for (const cell of variant.cells) {
      const base = ceiling?.cells.find((c) => c.name === cell.name)?.result;
      if (base !== undefined && base.requestsPerSecond > 0) cell.ratio = cell.result.requestsPerSecond / base.requestsPerSecond;
      const cpu = cell.result.serverCpuUsPerRequest;
      if (base?.serverCpuUsPerRequest !== undefined && cpu !== undefined && cpu > 0) cell.cpuRatio = base.serverCpuUsPerRequest / cpu;
    }
  }
}

/** The HTTP section of a run. */
export async function httpSection(config: BenchConfig, redis: RedisContext, log: Log): Promise<NonNullable<Results['http']>> {
  const selected = selectedVariants(config);
  const variants: VariantResult[] = [];
  for (const framework of ['express', 'fastify'] as Framework[]) {
    const specs = selected.filter((spec) => spec.framework === framework);
    if (specs.length > 0) variants.push(...(await benchFramework(specs, config, redis, log)));
  }
  addRatios(variants);
  return {
    connections: config.connections,
    warmupSeconds: config.warmup,
    seconds: config.seconds,
    rounds: config.rounds,
    sessions: config.sessions,
    variants,
  };
}
