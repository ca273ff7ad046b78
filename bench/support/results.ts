import type { LoadResult } from './load.js';

/** Everything one run measured: written as bench/results.json, and read by report.ts. */

export interface Machine {
  cpu: string;
  cores: number;
  ramBytes: number;
  os: string;
  node: string;
  /** Where the servers and the load generator ran (support/pinning.ts); absent in runs older than pinning. */
  pinning?: string;
  /** The CPU list each server ran on when pinned; absent when unpinned (and in older runs). */
  serverCpu?: string;
  /** How an idle core waits (support/machine.ts `cpuIdle`); absent where Linux does not say, and in older runs. */
  idle?: string;
}

export interface RunInfo {
  date: string;
  command: string;
  env: Record<string, string>;
  machine: Machine;
  versions: Record<string, string>;
  /** Wall-clock seconds of the whole run. */
  durationSeconds?: number;
  /** The Node.js major line this run measured (`24`), and whether it is the headline one. */
  line?: string;
  headline?: boolean;
}

export type CellName = 'read-1' | 'write-1' | 'read-many' | 'write-many';

/** The guarded-read cells, which every line runs and the targets read. */
export const READ_CELLS: readonly CellName[] = ['read-1', 'read-many'];

export interface Cell {
  name: CellName;
  method: 'GET' | 'POST';
  path: string;
  sessions: number;
  result: LoadResult;
  /** req/s over the same cell of the framework's ceiling in this run. */
  ratio?: number;
  /** Server CPU per request of the framework's ceiling over this variant's, same cell, same run (1 = no cost). */
  cpuRatio?: number;
  /** The same ratio for each start: the ceiling's k-th start against this variant's k-th (when started more than once). */
  startsCpuRatios?: number[];
}

export interface VariantResult {
  id: string;
  framework: 'express' | 'fastify';
  label: string;
  /** 'pending' (with `reason`) when the variant could not run here; 'failed' when it broke. */
  status: 'ok' | 'pending' | 'failed';
  reason?: string;
  /** Problems of the pre-load answer check (a misconfigured variant). */
  problems: string[];
  cells: Cell[];
}

export interface MemoryResult {
  store: 'nestjs-connected MemoryStore' | 'express-session MemoryStore' | 'Map<string, { userId }>';
  kind: string;
  sessions: number;
  heapBefore: number;
  heapAfter: number;
  bytesPerSession: number;
  fillMs: number;
  /** bytesPerSession over the Map floor's at the same count. */
  ratioToFloor?: number;
}

export interface GrowthReadResult {
  stored: number;
  loggedIn: number;
  prefillMs: number;
  result?: LoadResult;
  problems: string[];
}

export interface TimingResult {
  stored: number;
  /** Milliseconds of each repetition. */
  runsMs: number[];
  medianMs: number;
}

export interface DisconnectAllResult {
  stored: number;
  userSessions: number;
  /** `store.closeUser(userId)` on the MemoryStore. */
  store: TimingResult;
  /** `SessionService.disconnectAll({ userId })` in a Nest application context (events, onDelete, ...). */
  service?: TimingResult;
  closed: number;
}

export interface SweepResult {
  stored: number;
  expiring: number;
  /** The MemoryStore's own sweep (its once-a-second timer), time inside `sweep()`; no listener. */
  bare?: TimingResult & { expired: number[] };
  /** The same with the library's listener subscribed (SessionModule in an application context): `sweep()`, and until the event loop is free again. */
  app?: TimingResult & { expired: number[]; untilIdleMs: number[]; medianUntilIdleMs: number };
}

/** Memory of a running HTTP server after real logins (bench/live-memory.ts). Bytes are heapUsed + arrayBuffers after gc. */
export interface LiveMemoryResult {
  id: string;
  framework: 'express' | 'fastify';
  label: string;
  sessions: number;
  baseline: number;
  afterLogins: number;
  afterRequests: number;
  bytesPerSessionAfterLogins: number;
  /** The figure of the target: after one guarded request per session. */
  bytesPerSession: number;
  problems: string[];
}

/** How long after server A's write server B's `get` shows it (bench/window.ts). Milliseconds. */
export interface WindowResult {
  writes: number;
  /** The options the two RedisStore instances were given (BENCH_REDIS_STORE_OPTIONS). */
  storeOptions: Record<string, unknown>;
  p50: number;
  p99: number;
  max: number;
  mean: number;
  /** Writes whose first read on B already showed the new value. */
  firstReadFresh: number;
  /** Writes B had still not shown after a second (counted in p99 as a second). */
  neverSeen: number;
  /** p50 of one `get` on B while nothing changes (a near-cache hit, or a round trip without one). */
  steadyGetP50: number;
}

export interface SocketHeapResult {
  mode: 'plain' | 'connected';
  sockets: number;
  /** heapUsed + arrayBuffers after gc, at start, after the logins and after opening the sockets. */
  heapStart: number;
  heapAfterLogins: number;
  heapAfterSockets: number;
  bytesPerSocket: number;
  bytesPerSession?: number;
}

export interface SocketMessagesResult {
  mode: 'plain' | 'connected';
  handler: string;
  senders: number;
  messagesPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  acks: number;
}

export interface Results {
  run: RunInfo;
  config: Record<string, unknown>;
  http?: {
    connections: number;
    warmupSeconds: number;
    seconds: number;
    /** Interleaved slices the measured seconds were cut into (absent in runs before they were). */
    rounds?: number;
    /** Times each server was started, the rounds shared out between the starts (absent in runs before; one). */
    starts?: number;
    /** The known cost of the calibration variants' `GET /read`, µs of busy-waiting (absent in runs before them). */
    calibrationUs?: number;
    sessions: number;
    variants: VariantResult[];
  };
  memory?: MemoryResult[];
  growth?: {
    read: GrowthReadResult[];
    disconnectAll: DisconnectAllResult[];
    sweep: SweepResult[];
    problems: string[];
  };
  sockets?: {
    heap: SocketHeapResult[];
    messages: SocketMessagesResult[];
    problems: string[];
  };
  liveMemory?: LiveMemoryResult[];
  window?: WindowResult | { pending: string };
  /** Sections that failed as a whole, with why. */
  failures: Array<{ section: string; error: string }>;
}

/** results.json: one {@link Results} per Node.js line, the headline line first. */
export interface BenchRun {
  run: Pick<RunInfo, 'date' | 'command' | 'env' | 'durationSeconds'> & { machine: Machine; lines: string[] };
  lines: Results[];
}

/** A results.json of either shape (before lines, a single run). */
export function asBenchRun(json: BenchRun | Results): BenchRun {
  if ('lines' in json && Array.isArray(json.lines)) return json;
  const single = json as Results;
  return { run: { ...single.run, lines: [single.run.machine.node] }, lines: [single] };
}
