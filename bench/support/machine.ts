import { readFileSync } from 'node:fs';
import { cpus, release, totalmem, type as osType } from 'node:os';
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
  };
}
