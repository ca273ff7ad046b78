import { readFileSync } from 'node:fs';
import { cpus, release, totalmem, type as osType } from 'node:os';
import { join } from 'node:path';
import { describePinning, pinning } from './pinning.js';
import type { Machine } from './results.js';

function osName(): string {
  try {
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1];
    if (pretty) return `${pretty} (${osType()} ${release()})`;
  } catch {
    // Not Linux.
  }
  return `${osType()} ${release()}`;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * How an idle core waits, from Linux's sysfs under `root`: the cpuidle driver and governor and, on a KVM guest with
 * the haltpoll driver, how long an idle core polls before it halts. With that at 0, every wake-up of an idle core
 * is a halt and an interrupt through the hypervisor, charged to whichever process woke it; under a load generator
 * on the other core, that makes a server's CPU per request grow faster than its own work (bench/README.md,
 * "Calibration"). Undefined where sysfs says nothing.
 */
export function cpuIdle(root = '/sys'): string | undefined {
  const driver = read(join(root, 'devices/system/cpu/cpuidle/current_driver'));
  if (driver === undefined) return undefined;
  const governor =
    read(join(root, 'devices/system/cpu/cpuidle/current_governor')) ?? read(join(root, 'devices/system/cpu/cpuidle/current_governor_ro'));
  const pollNs = read(join(root, 'module/haltpoll/parameters/guest_halt_poll_ns'));
  return (
    `cpuidle driver ${driver}` +
    (governor === undefined ? '' : `, governor ${governor}`) +
    (pollNs === undefined ? '' : `, guest_halt_poll_ns ${pollNs}${pollNs === '0' ? ' (an idle core halts at once)' : ''}`)
  );
}

/** The machine a run measures on, with the Node.js version of this process. */
export function machine(): Machine {
  const list = cpus();
  return {
    cpu: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    ramBytes: totalmem(),
    os: osName(),
    node: process.version,
    pinning: describePinning(),
    serverCpu: pinning()?.server,
    idle: cpuIdle(),
  };
}
