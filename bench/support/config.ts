import { relative } from 'node:path';
import type { CellName } from './results.js';

/**
 * Every knob of the benchmark, read from the environment once. The defaults are the numbers the benchmark issue
 * asks for; smaller values are for trying the harness out (they are written into RESULTS.md with the results).
 */

function int(name: string, fallback: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw.replace(/_/g, ''));
  if (!Number.isFinite(value) || !Number.isInteger(value) || value < min) {
    throw new Error(`${name} must be an integer >= ${min} (got '${raw}')`);
  }
  return value;
}

function ints(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  return raw.split(',').map((part) => {
    const value = Number(part.trim().replace(/_/g, ''));
    if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a comma-separated list of positive integers`);
    return value;
  });
}

export const SECTIONS = ['http', 'memory', 'live-memory', 'growth', 'sockets', 'window'] as const;
export type Section = (typeof SECTIONS)[number];
/** What the lines after the headline run: the sections the targets need, not the store-API memory or the growth. */
const OTHER_LINE_SECTIONS: readonly Section[] = ['http', 'live-memory', 'sockets', 'window'];

export const CELL_NAMES = ['read-1', 'write-1', 'read-many', 'write-many'] as const;
/** The lines after the headline measure the guarded reads only (the targets' cells). */
const OTHER_LINE_CELLS: readonly CellName[] = ['read-1', 'read-many'];

/** True in the run of the headline Node.js line (bench/lines.ts sets BENCH_LINE_ROLE=other for the others). */
export function isHeadline(): boolean {
  return process.env['BENCH_LINE_ROLE'] !== 'other';
}

function sections(): Section[] {
  const raw = process.env['BENCH_ONLY'];
  const own = isHeadline() ? SECTIONS : OTHER_LINE_SECTIONS;
  if (raw === undefined || raw.trim() === '') return [...own];
  const wanted = raw.split(',').map((part) => part.trim());
  for (const part of wanted) {
    if (!(SECTIONS as readonly string[]).includes(part)) throw new Error(`BENCH_ONLY: unknown section '${part}' (${SECTIONS.join(', ')})`);
  }
  return own.filter((section) => wanted.includes(section));
}

function cells(): CellName[] {
  const raw = process.env['BENCH_CELLS'];
  if (raw === undefined || raw.trim() === '') return [...(isHeadline() ? CELL_NAMES : OTHER_LINE_CELLS)];
  const wanted = raw.split(',').map((part) => part.trim());
  for (const part of wanted) {
    if (!(CELL_NAMES as readonly string[]).includes(part))
      throw new Error(`BENCH_CELLS: unknown cell '${part}' (${CELL_NAMES.join(', ')})`);
  }
  return CELL_NAMES.filter((cell) => wanted.includes(cell));
}

export interface BenchConfig {
  /** Seconds of load before each measured cell, thrown away. */
  warmup: number;
  /** Seconds measured per cell. */
  seconds: number;
  /** Slices the measured seconds are cut into, interleaved with the other variants' (see load.ts `interleave`). */
  rounds: number;
  /**
   * HTTP: how many times each server is started; the slices are shared out between the starts. One server process
   * keeps the speed its start gave it (where V8 inlined, what it compiled when) for as long as it runs, and starts of
   * the same build differ by up to 3 µs a request (docs/ARCHITECTURE.md, "Per-request cost"): only more starts
   * average that away, and the figures of each start show how far it reaches.
   */
  starts: number;
  /** autocannon connections (fixed, no pipelining). */
  connections: number;
  /** Distinct logged-in sessions of the "many sessions" cells. */
  sessions: number;
  /** Session counts of the memory measurement. */
  memorySizes: number[];
  /** Sessions stored for the "large store" side of the growth read test (the other side has `sessions`). */
  growthStored: number;
  /** Sessions stored around the user whose `disconnectAll` is timed. */
  disconnectSizes: number[];
  /** Sessions expiring in the same second, for the sweep timing. */
  sweepExpiring: number;
  /** Store sizes in which those sessions expire (the rest lives on). */
  sweepStored: number[];
  /** Repetitions of the in-process timings (the median is reported). */
  repeats: number;
  /** Sockets held open by the socket server. */
  sockets: number;
  /** Sockets sending request/ack messages in a loop. */
  socketSenders: number;
  /** Which parts run (BENCH_ONLY=http,memory,live-memory,growth,sockets,window). */
  sections: Section[];
  /** Which HTTP cells run (BENCH_CELLS). */
  cells: CellName[];
  /** Logins (one user each) of the live-server memory measurement. */
  liveSessions: number;
  /** Writes timed by the invalidation window measurement. */
  windowWrites: number;
  /** Where RedisStore is imported from. */
  redisStoreModule: string;
  /** Only these HTTP variants (BENCH_VARIANTS=id,id; the frameworks' ceilings always run), or all. */
  variants: string[] | undefined;
}

export function readConfig(): BenchConfig {
  const sessions = int('BENCH_SESSIONS', 1000, 1);
  const sockets = int('BENCH_WS_SOCKETS', 2000, 1);
  const rounds = int('BENCH_ROUNDS', 4, 1);
  const starts = int('BENCH_STARTS', Math.min(2, rounds), 1);
  if (starts > rounds) throw new Error(`BENCH_STARTS (${starts}) must be at most BENCH_ROUNDS (${rounds}): every start measures a slice`);
  return {
    warmup: int('BENCH_WARMUP', 3, 0),
    seconds: int('BENCH_SECONDS', 8, 1),
    rounds,
    starts,
    connections: int('BENCH_CONNECTIONS', 10, 1),
    sessions,
    memorySizes: ints('BENCH_MEMORY_SIZES', [100_000, 1_000_000]),
    growthStored: int('BENCH_GROWTH_SESSIONS', 1_000_000, sessions),
    disconnectSizes: ints('BENCH_DISCONNECT_SIZES', [10_000, 1_000_000]),
    sweepExpiring: int('BENCH_SWEEP_SESSIONS', 100_000, 1),
    sweepStored: ints('BENCH_SWEEP_STORED', [100_000, 1_000_000]),
    repeats: int('BENCH_REPEATS', 7, 1),
    sockets,
    socketSenders: Math.min(int('BENCH_WS_SENDERS', 50, 1), sockets),
    sections: sections(),
    cells: cells(),
    liveSessions: int('BENCH_LIVE_SESSIONS', 10_000, 1),
    windowWrites: int('BENCH_WINDOW_WRITES', 1000, 1),
    redisStoreModule: process.env['BENCH_REDIS_STORE_MODULE'] ?? 'nestjs-connected/redis',
    variants: process.env['BENCH_VARIANTS']?.trim() ? process.env['BENCH_VARIANTS'].split(',').map((id) => id.trim()) : undefined,
  };
}

/** Variables lines.ts sets for each line's run: not settings of the user's. */
const INTERNAL = ['BENCH_LINE_OUT', 'BENCH_LINE_ROLE'];

/** The BENCH_* variables of this run, for the report. */
export function benchEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  const names = Object.keys(process.env).filter((name) => name.startsWith('BENCH_') && !INTERNAL.includes(name));
  for (const name of names.sort()) env[name] = process.env[name]!;
  return env;
}

/** How this run was started, for the report: `npm run bench`, or the node command line. */
export function benchCommand(): string {
  return process.env['npm_lifecycle_event'] === 'bench'
    ? 'npm run bench'
    : `node ${[relative(process.cwd(), process.argv[1] ?? ''), ...process.argv.slice(2)].join(' ')}`;
}
