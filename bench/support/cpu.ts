import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** CPU counters read around a measured slice, in µs: the server's own, and redis-server's when it takes part. */
export interface CpuReading {
  serverUs: number;
  redisUs?: number;
}

let ticksPerSecond: number | undefined;

/** The kernel's clock tick (`getconf CLK_TCK`), the unit of /proc/<pid>/stat's times; 100 on every Linux we run. */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const found = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const value = Number(found.stdout?.trim());
    ticksPerSecond = Number.isInteger(value) && value > 0 ? value : 100;
  }
  return ticksPerSecond;
}

/**
 * utime + stime of another process (redis-server, which cannot report its own `process.cpuUsage()`), in µs, from
 * /proc/<pid>/stat. Its resolution is one clock tick (10 ms): a cell sums several seconds of it, so that the
 * rounding stays under a few percent.
 */
export function processCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  // The command name (field 2) may hold spaces and parentheses: count the fields after its closing one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  const ticks = Number(fields[11]) + Number(fields[12]);
  if (!Number.isFinite(ticks)) throw new Error(`unreadable /proc/${pid}/stat`);
  return (ticks * 1_000_000) / clockTicks();
}
