import { spawn, type ChildProcess } from 'node:child_process';
import { onServerCpus } from './pinning.js';
import { fileURLToPath } from 'node:url';

/**
 * Child processes of the benchmark: every one is registered here and killed at the end, on an error, on SIGINT or
 * SIGTERM, and (SIGKILL, synchronously) when this process exits with some still running. Node children also end
 * themselves when their stdin pipe closes (see `exitWithParent`), so that none outlives an orchestrator killed with
 * SIGKILL; redis-server gets a watchdog for the same reason (support/redis.ts).
 */

const live = new Set<ChildProcess>();
let hooked = false;

/** A line a child prints on stdout when it is ready (servers) or done (measurements), followed by JSON. */
export const READY = 'BENCH_READY ';
export const RESULT = 'BENCH_RESULT ';
/** A server child's answer to a query on its stdin (see `answerQueries`), followed by JSON. */
export const REPLY = 'BENCH_REPLY ';

/** bench/ (this file runs as bench/.build/support/children.js). */
export const BENCH_DIR = fileURLToPath(new URL('../../', import.meta.url));
/** The repository root. */
export const ROOT_DIR = fileURLToPath(new URL('../../../', import.meta.url));

/** An error's message, without this checkout's path (RESULTS.md is committed). */
export function describe(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replaceAll(ROOT_DIR, '');
}

/** Absolute path of a compiled benchmark file, e.g. `servers/http-server.js`. */
export function buildPath(relative: string): string {
  return fileURLToPath(new URL(`../${relative}`, import.meta.url));
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function exited(child: ChildProcess): Promise<void> {
  if (!isRunning(child)) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Registers a child for the final clean-up. */
export function track(child: ChildProcess): void {
  installHooks();
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (!isRunning(child)) return;
  try {
    child.kill('SIGTERM');
  } catch {
    // Gone meanwhile.
  }
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), graceMs);
  });
  const outcome = await Promise.race([exited(child).then(() => 'exited' as const), late]);
  clearTimeout(timer);
  if (outcome === 'late' && isRunning(child)) {
    try {
      child.kill('SIGKILL');
    } catch {
      // Gone meanwhile.
    }
    await exited(child);
  }
}

/** Stops every registered child (used on errors and signals; the normal path stops each one itself). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((child) => stopChild(child, 3000)));
}

function installHooks(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\nbench: ${signal}, stopping ${live.size} child process(es)`);
      void stopAll().finally(() => process.exit(130));
    });
  }
}

export interface NodeChild {
  readonly process: ChildProcess;
  /** The JSON of the child's ready line. */
  readonly ready: Record<string, unknown>;
  /** The last lines the child printed (for error messages). */
  output(): string;
  /**
   * Asks a server child that runs `answerQueries` (`cpu`: its `process.cpuUsage()`; `heap`: heapUsed + arrayBuffers
   * after gc) through its stdin, so that measuring adds no route to the app under test.
   */
  query(command: 'cpu' | 'heap'): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export interface NodeChildOptions {
  /** Arguments of the script. */
  args?: string[];
  /** Node flags, e.g. `--expose-gc`. */
  nodeArgs?: string[];
  env?: Record<string, string>;
  /** How long to wait for the ready line. */
  timeoutMs?: number;
  /** Name in error messages. */
  label?: string;
  /** A server under test: it runs on the server CPUs (see pinning.ts). */
  server?: boolean;
}

/**
 * Starts `node <script>` and resolves once it prints the `marker` line (its JSON is `ready`); rejects, after
 * killing it, when it exits first or takes longer than `timeoutMs`.
 */
export function startNode(script: string, options: NodeChildOptions = {}, marker = READY): Promise<NodeChild> {
  const label = options.label ?? script;
  const argv = [...(options.nodeArgs ?? []), script, ...(options.args ?? [])];
  const [command, args] = options.server === true ? onServerCpus(process.execPath, argv) : [process.execPath, argv];
  const child = spawn(command, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  track(child);
  const lines: string[] = [];
  const remember = (line: string) => {
    lines.push(line);
    if (lines.length > 40) lines.shift();
  };
  const output = () => lines.join('\n');
  let stderrRest = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    const parts = (stderrRest + chunk).split('\n');
    stderrRest = parts.pop() ?? '';
    for (const line of parts) remember(line);
  });

  // Replies come back in the order the queries were written.
  const waiting: Array<{ resolve: (reply: Record<string, unknown>) => void; reject: (error: Error) => void }> = [];
  child.once('exit', () => {
    for (const waiter of waiting.splice(0)) waiter.reject(new Error(`${label} exited before it answered a query`));
  });
  const query = (command: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      if (!isRunning(child)) {
        reject(new Error(`${label} is not running`));
        return;
      }
      waiting.push({ resolve, reject });
      child.stdin!.write(`${command}\n`);
    });

  return new Promise<NodeChild>((resolve, reject) => {
    let settled = false;
    let stdoutRest = '';
    const timer = setTimeout(() => {
      fail(new Error(`${label}: no '${marker.trim()}' line within ${options.timeoutMs ?? 60_000} ms\n${output()}`));
    }, options.timeoutMs ?? 60_000);
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void stopChild(child, 1000).finally(() => reject(error));
    };
    child.once('error', (error) => fail(new Error(`${label}: ${error.message}`)));
    child.once('exit', (code, signal) => {
      if (stderrRest) remember(stderrRest);
      fail(new Error(`${label} exited (${code ?? signal}) before it was ready\n${output()}`));
    });
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      const parts = (stdoutRest + chunk).split('\n');
      stdoutRest = parts.pop() ?? '';
      for (const line of parts) {
        if (line.startsWith(REPLY)) {
          const waiter = waiting.shift();
          try {
            waiter?.resolve(JSON.parse(line.slice(REPLY.length)) as Record<string, unknown>);
          } catch {
            waiter?.reject(new Error(`${label}: unreadable reply: ${line}`));
          }
        } else if (!settled && line.startsWith(marker)) {
          let ready: Record<string, unknown>;
          try {
            ready = JSON.parse(line.slice(marker.length)) as Record<string, unknown>;
          } catch {
            fail(new Error(`${label}: unreadable ready line: ${line}`));
            return;
          }
          settled = true;
          clearTimeout(timer);
          resolve({ process: child, ready, output, query, stop: () => stopChild(child) });
        } else {
          remember(line);
        }
      }
    });
  });
}

/** Runs a measuring child to its end and resolves the JSON of its result line. */
export async function runNode<T>(script: string, options: NodeChildOptions = {}): Promise<T> {
  const child = await startNode(script, { timeoutMs: 30 * 60_000, ...options }, RESULT);
  await exited(child.process);
  return child.ready as T;
}

/**
 * In a child: exit when the parent goes away (its end of the stdin pipe closes), and on SIGTERM / SIGINT after
 * `onStop` (an app's close), within a few seconds whatever it does. A server keeps the pipe open (`keepAlive`);
 * a measuring child, which exits when it is done, does not.
 */
export function exitWithParent(onStop?: () => Promise<void>, keepAlive = true): void {
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), 3000).unref();
    void Promise.resolve(onStop?.())
      .catch(() => undefined)
      .finally(() => process.exit(0));
  };
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
  // A measuring child ends by itself: the pipe must not keep it alive.
  if (!keepAlive) (process.stdin as unknown as { unref?: () => void }).unref?.();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

/**
 * In a server child: answers the orchestrator's queries, one per stdin line (`NodeChild.query`): `cpu` with
 * `process.cpuUsage()` (µs, user and system, every thread of the process), `heap` with heapUsed + arrayBuffers after
 * full collections (needs `--expose-gc`; ArrayBuffer contents live outside the V8 heap, and leaving them out would
 * flatter whoever keeps data in typed arrays or Buffers).
 */
export function answerQueries(): void {
  let rest = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'cpu') {
        const { user, system } = process.cpuUsage();
        announce(REPLY, { user, system, total: user + system });
      } else if (line === 'heap') {
        const gc = (globalThis as { gc?: () => void }).gc;
        if (gc === undefined) {
          announce(REPLY, { error: 'run with --expose-gc' });
          continue;
        }
        for (let i = 0; i < 4; i++) gc();
        const { heapUsed, arrayBuffers } = process.memoryUsage();
        announce(REPLY, { heapUsed, arrayBuffers, bytes: heapUsed + arrayBuffers });
      } else if (line !== '') {
        announce(REPLY, { error: `unknown query '${line}'` });
      }
    }
  });
}

/** In a child: prints the ready line. */
export function announce(marker: string, payload: Record<string, unknown>): void {
  process.stdout.write(`${marker}${JSON.stringify(payload)}\n`);
}
