import type { LoadResult } from './load.js';

/** Everything one run measured: written as bench/results.json, and read by report.ts. */

export interface Machine {
  cpu: string;
  cores: number;
  ramBytes: number;
  os: string;
  node: string;
}

export interface RunInfo {
  date: string;
  command: string;
  env: Record<string, string>;
  machine: Machine;
  versions: Record<string, string>;
  /** Wall-clock seconds of the whole run. */
  durationSeconds?: number;
}

export type CellName = 'read-1' | 'write-1' | 'read-many' | 'write-many';

export interface Cell {
  name: CellName;
  method: 'GET' | 'POST';
  path: string;
  sessions: number;
  result: LoadResult;
  /** req/s over the same cell of the framework's ceiling in this run. */
  ratio?: number;
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

export interface SocketHeapResult {
  mode: 'plain' | 'connected';
  sockets: number;
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
  /** Sections that failed as a whole, with why. */
  failures: Array<{ section: string; error: string }>;
}
