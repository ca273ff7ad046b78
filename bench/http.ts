/**
 * The HTTP matrix: every variant of a framework runs at once, each in its own process, and every cell is measured in
 * slices that alternate between them (support/load.ts `interleave`). On a shared 2-core machine the speed drifts by
 * 10–20% from one minute to the next; measured one after the other, a variant's ratio to the ceiling would say more
 * about when it ran than about the library.
 */
import { CALIBRATION_SPIN_US, VARIANTS, type Framework, type VariantSpec } from './servers/shared.js';
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

/** Run beside every selection: what a ratio is read against, and whether the machine adds costs as they are. */
const ALWAYS: ReadonlySet<VariantSpec['library']> = new Set(['ceiling', 'calibration']);

/** The variants of BENCH_VARIANTS with their frameworks' ceilings and calibrations, or all of them. */
export function selectedVariants(config: Pick<BenchConfig, 'variants'>): VariantSpec[] {
  const wanted = config.variants;
  if (wanted === undefined) return [...VARIANTS];
  for (const id of wanted) if (!VARIANTS.some((v) => v.id === id)) throw new Error(`BENCH_VARIANTS: unknown variant '${id}'`);
  const frameworks = new Set(VARIANTS.filter((v) => wanted.includes(v.id)).map((v) => v.framework));
  return VARIANTS.filter((v) => wanted.includes(v.id) || (ALWAYS.has(v.library) && frameworks.has(v.framework)));
}

/** A variant's result before any start: ok until a start fails or finds it cannot run. */
function emptyResult(spec: VariantSpec): VariantResult {
  return { id: spec.id, framework: spec.framework, label: spec.label, status: 'ok', problems: [], cells: [] };
}

/** Starts, logs in and checks one variant; one that cannot run comes back undefined, the reason in its result. */
async function start(
  spec: VariantSpec,
  result: VariantResult,
  config: BenchConfig,
  redis: RedisContext,
  log: Log,
): Promise<Running | undefined> {
  if (spec.store === 'redis') {
    const reason = redis.unavailable ?? (spec.library === 'nestjs-connected' ? redis.storeUnavailable : undefined);
    if (reason !== undefined) {
      log(`${tag(spec)} pending: ${reason}`);
      Object.assign(result, { status: 'pending', reason });
      return undefined;
    }
  }
  const env: Record<string, string> = { BENCH_REDIS_STORE_MODULE: config.redisStoreModule };
  if (redis.server !== undefined) env['BENCH_REDIS_URL'] = redis.server.url;
  let server: RunningServer;
  try {
    server = await startHttpServer(spec.id, env);
  } catch (error) {
    log(`${tag(spec)} FAILED to start: ${describe(error).split('\n')[0]}`);
    Object.assign(result, { status: 'failed', reason: describe(error) });
    return undefined;
  }
  try {
    // The ceilings, the reference rows and the calibrations keep no session: they set no cookie and refuse nothing.
    const guarded = spec.store !== 'none';
    const single = await login(server.url, 1, { prefix: 'solo', expectCookie: guarded });
    const many = await login(server.url, config.sessions, { prefix: 'user', expectCookie: guarded });
    for (const problem of await checkAnswers(server.url, single[0]!, guarded)) {
      result.problems.push(problem);
      log(`${tag(spec)} CHECK FAILED: ${problem}`);
    }
    return { spec, result, server, single, many, guarded };
  } catch (error) {
    await server.stop();
    log(`${tag(spec)} FAILED: ${describe(error).split('\n')[0]}`);
    Object.assign(result, { status: 'failed', reason: describe(error) });
    return undefined;
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

/** The variant's cell `cell`, on `running`, the start now up: made at its first start, moved at each later one. */
function sliceOf(
  own: Map<CellName, SlicedCell>,
  running: Running,
  cell: (typeof CELLS)[number],
  config: BenchConfig,
  redis: RedisContext,
): SlicedCell {
  const options = {
    url: running.server.url,
    method: cell.method,
    path: cell.path,
    cookies: cell.many ? running.many : running.single,
    connections: config.connections,
    cpu: cpuProbe(running, redis),
  };
  const known = own.get(cell.name);
  if (known !== undefined) {
    known.restarted(options);
    return known;
  }
  const made = new SlicedCell(options);
  own.set(cell.name, made);
  return made;
}

/** Start `start`'s share of the rounds: `rounds` shared out, the first starts taking what does not divide. */
function roundsOf(start: number, config: BenchConfig): number {
  return Math.floor(config.rounds / config.starts) + (start < config.rounds % config.starts ? 1 : 0);
}

/** One framework's variants, side by side, each started `config.starts` times. */
async function benchFramework(specs: VariantSpec[], config: BenchConfig, redis: RedisContext, log: Log): Promise<VariantResult[]> {
  const results = specs.map(emptyResult);
  const cells = CELLS.filter((c) => config.cells.includes(c.name));
  /** Each variant's cells, measured over all its starts. */
  const measured = new Map<VariantResult, Map<CellName, SlicedCell>>(results.map((result) => [result, new Map()]));
  for (let k = 0; k < config.starts; k++) {
    if (config.starts > 1) log(`http    ${specs[0]!.framework}: start ${k + 1} of ${config.starts}`);
    // Before any Redis variant logs in (they run at the same time, on one Redis); the last start's sessions are gone.
    if (specs.some((spec) => spec.store === 'redis')) await redis.server?.flush();
    const running: Running[] = [];
    try {
      for (const [i, spec] of specs.entries()) {
        if (results[i]!.status !== 'ok') continue;
        const started = await start(spec, results[i]!, config, redis, log);
        if (started !== undefined) running.push(started);
      }
      for (const cell of cells) {
        const sliced = running.map((r) => sliceOf(measured.get(r.result)!, r, cell, config, redis));
        const rounds = roundsOf(k, config);
        await interleave(sliced, config.warmup, (config.seconds * rounds) / config.rounds, rounds);
      }
      if (config.cells.includes('write-many')) for (const r of running) await checkWrites(r, log);
    } finally {
      for (const r of running) await r.server.stop();
    }
  }
  for (const [i, result] of results.entries()) {
    for (const cell of cells) {
      const sliced = measured.get(result)!.get(cell.name);
      if (sliced === undefined) continue;
      const loaded = sliced.result();
      result.cells.push({
        name: cell.name,
        method: cell.method,
        path: cell.path,
        sessions: cell.many ? config.sessions : 1,
        result: loaded,
      });
      log(
        `${tag(specs[i]!)} ${cell.name.padEnd(10)} ${loaded.requestsPerSecond.toFixed(0).padStart(7)} req/s  ` +
          `p50 ${loaded.p50.toFixed(2).padStart(6)} ms  p99 ${loaded.p99.toFixed(2).padStart(6)} ms  ` +
          `cpu ${us(loaded.serverCpuUsPerRequest)} µs/req` +
          (loaded.startsCpuUsPerRequest === undefined ? '' : ` (starts ${loaded.startsCpuUsPerRequest.map(us).join('/')})`) +
          (loaded.redisCpuUsPerRequest === undefined ? '' : ` (redis-server ${us(loaded.redisCpuUsPerRequest)})`) +
          `  slices ${(loaded.slices ?? []).map((rate) => rate.toFixed(0)).join('/')}` +
          (loaded.non2xx + loaded.errors > 0 ? `  NON-2XX ${loaded.non2xx} ERRORS ${loaded.errors}` : ''),
      );
    }
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
      const starts = cell.result.startsCpuUsPerRequest;
      const baseStarts = base?.startsCpuUsPerRequest;
      if (starts !== undefined && baseStarts?.length === starts.length) cell.startsCpuRatios = starts.map((own, k) => baseStarts[k]! / own);
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
    starts: config.starts,
    calibrationUs: CALIBRATION_SPIN_US,
    sessions: config.sessions,
    variants,
  };
}
