import { execFileSync } from 'node:child_process';

/** Which CPUs the servers under test run on, and which the load generator and redis-server share. */
export interface Pinning {
  /** taskset's CPU list for each server child. */
  readonly server: string;
  /** taskset's CPU list for this process, the load generator, redis-server and the measuring children. */
  readonly client: string;
}

/** The CPU numbers of taskset's `pid N's current affinity list: 0-2,4` line; undefined if it is not one. */
export function parseAffinity(line: string): number[] | undefined {
  const list = /affinity list:\s*([\d,\-\s]+)$/.exec(line.trim())?.[1];
  if (list === undefined) return undefined;
  const cpus: number[] = [];
  for (const part of list.split(',')) {
    const [from, to = from] = part.trim().split('-').map(Number);
    if (!Number.isInteger(from) || !Number.isInteger(to) || to! < from!) return undefined;
    for (let cpu = from!; cpu <= to!; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/**
 * The split of the allowed CPUs: the last for the server under test, the others for everything that loads or serves
 * it. A server that shares its core with the load generator loses CPU time and caches to it in slices that differ
 * from run to run; on its own core, its CPU per request is the server's alone. None with `BENCH_PIN=0`, or with fewer
 * than two CPUs.
 */
export function splitCpus(cpus: readonly number[] | undefined, pin = process.env['BENCH_PIN']): Pinning | undefined {
  if (pin === '0' || cpus === undefined || cpus.length < 2) return undefined;
  return { server: String(cpus[cpus.length - 1]), client: cpus.slice(0, -1).join(',') };
}

/** The CPUs this process may run on; undefined without taskset (not Linux). */
function allowedCpus(): number[] | undefined {
  try {
    return parseAffinity(
      execFileSync('taskset', ['-c', '-p', String(process.pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
    );
  } catch {
    return undefined;
  }
}

let decided: { pinning: Pinning | undefined } | undefined;

/** This run's pinning (decided once; see {@link splitCpus}). */
export function pinning(): Pinning | undefined {
  decided ??= { pinning: splitCpus(allowedCpus()) };
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
