import { execFileSync } from 'node:child_process';

/** Which CPUs the servers under test run on, and which the load generator and redis-server share. */
export interface Pinning {
  /** taskset's CPU list for each server child. */
  readonly server: string;
  /** taskset's CPU list for this process, the load generator, redis-server and the measuring children. */
  readonly client: string;
}

/** The CPUs this process may run on, from taskset; undefined without taskset (not Linux) or on a parse failure. */
function allowedCpus(): number[] | undefined {
  try {
    const line = execFileSync('taskset', ['-c', '-p', String(process.pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const list = /:\s*([\d,\-\s]+)$/.exec(line.trim())?.[1];
    if (list === undefined) return undefined;
    const cpus: number[] = [];
    for (const part of list.split(',')) {
      const [from, to = from] = part.trim().split('-').map(Number);
      if (!Number.isInteger(from) || !Number.isInteger(to)) return undefined;
      for (let cpu = from!; cpu <= to!; cpu++) cpus.push(cpu);
    }
    return cpus;
  } catch {
    return undefined;
  }
}

/**
 * The split of this machine's CPUs: the last allowed CPU for the server under test, the others for everything that
 * loads or serves it. A server that shares its core with the load generator loses CPU time and caches to it in
 * slices that differ from run to run; on its own core, its CPU per request is the server's alone. Off with
 * BENCH_PIN=0, and when fewer than two CPUs or no taskset are available.
 */
function decide(): Pinning | undefined {
  if (process.env['BENCH_PIN'] === '0') return undefined;
  const cpus = allowedCpus();
  if (cpus === undefined || cpus.length < 2) return undefined;
  return { server: String(cpus[cpus.length - 1]), client: cpus.slice(0, -1).join(',') };
}

let decided: { pinning: Pinning | undefined } | undefined;

/** This run's pinning (decided once; see {@link decide}). */
export function pinning(): Pinning | undefined {
  decided ??= { pinning: decide() };
  return decided.pinning;
}

/** For the report: where the server and the load generator ran. */
export function describePinning(): string {
  const pinned = pinning();
  if (pinned === undefined) return 'none: the servers, redis-server and the load generator share every core';
  return `each server on CPU ${pinned.server}; the load generator, redis-server and the measuring children on CPU ${pinned.client} (taskset; BENCH_PIN=0 turns it off)`;
}

/** Moves this process and all its threads to the client CPUs; the children it starts afterwards inherit them. */
export function pinSelf(): void {
  const pinned = pinning();
  if (pinned !== undefined) execFileSync('taskset', ['-a', '-c', '-p', pinned.client, String(process.pid)], { stdio: 'ignore' });
}

/** The command and arguments that start `command args` on the server CPUs (unchanged without pinning). */
export function onServerCpus(command: string, args: readonly string[]): [string, string[]] {
  const pinned = pinning();
  return pinned === undefined ? [command, [...args]] : ['taskset', ['-c', pinned.server, command, ...args]];
}
