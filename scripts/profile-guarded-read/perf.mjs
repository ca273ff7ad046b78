// `--perf <dir>` of scripts/profile-guarded-read.mjs: Linux perf's CPU-time samples of each server, in µs per request.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { largestDifferences, libraryNamed } from './compare.mjs';

/**
 * Starts `perf record` on process `pid` (cpu-clock: a sample only while the process is on a CPU, unlike the V8
 * profiler's, whose samples are wall time) writing `<dir>/<name>.perf.data`; resolves to its stop, which resolves
 * to the file. The server runs with `--perf-basic-prof`, so JIT-compiled functions have names (in
 * /tmp/perf-<pid>.map).
 */
export async function startPerf(pid, dir, name) {
  mkdirSync(dir, { recursive: true });
  const file = resolve(dir, `${name}.perf.data`);
  const child = spawn(
    'perf',
    ['record', ...(process.env.PERF_GRAPH ? ['-g'] : []), '-q', '-e', 'cpu-clock', '-F', '4999', '-p', String(pid), '-o', file],
    { stdio: 'ignore' },
  );
  const exited = once(child, 'exit');
  // perf attaches within a few ms; the load starts after.
  await new Promise((done) => setTimeout(done, 200));
  return async () => {
    child.kill('SIGINT');
    await exited;
    return file;
  };
}

/** Each binary's and each symbol's share of the samples in `file` (0-1), from `perf report`. */
function shares(file) {
  const report = execFileSync('perf', ['report', '-i', file, '--no-children', '--sort', 'dso,sym', '-q', '-g', 'none'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const byDso = new Map();
  const bySymbol = new Map();
  for (const line of report.split('\n')) {
    const match = /^\s*([\d.]+)%\s+(\[JIT\] tid \d+|\S+)\s+\[[.k]\]\s+(.*)$/.exec(line);
    if (match === null) continue;
    const share = Number(match[1]) / 100;
    const dso = match[2].startsWith('[JIT]') ? '[JIT]' : match[2];
    const symbol = `${dso} ${match[3].trim()}`;
    byDso.set(dso, (byDso.get(dso) ?? 0) + share);
    bySymbol.set(symbol, (bySymbol.get(symbol) ?? 0) + share);
  }
  return { byDso, bySymbol };
}

/**
 * Prints, per variant, the CPU time per request in each binary (the kernel, node with V8's builtins and runtime, the
 * JIT-compiled JavaScript, libc) and, against the first variant, the symbols that differ most, in µs per request:
 * each variant's shares scaled by its median CPU per request.
 */
export function printPerf(adapter, variants, servers, { median, top, libraryOf }) {
  const micros = (map, perRequest) => new Map([...map].map(([name, share]) => [name, share * perRequest]));
  const measured = variants.map((variant) => {
    const { byDso, bySymbol } = shares(servers[variant].perf);
    const perRequest = median(servers[variant].perRound);
    return { variant, byDso: micros(byDso, perRequest), bySymbol: libraryNamed(micros(bySymbol, perRequest), libraryOf(variant)) };
  });
  const [base] = measured;
  for (const { variant, byDso, bySymbol } of measured) {
    const binaries = [...byDso].filter(([, value]) => value >= 0.05).map(([name, value]) => `${name} ${value.toFixed(2)}`);
    console.log(`  perf ${adapter} ${variant}, µs per request by binary: ${binaries.join(', ')}`);
    if (bySymbol === base.bySymbol) continue;
    console.log(`    the symbols that differ most from ${base.variant}, µs per request:`);
    for (const [name, difference] of largestDifferences(bySymbol, base.bySymbol, top)) {
      console.log(`    ${difference.toFixed(2).padStart(6)}  ${name.slice(0, 140)}`);
    }
  }
}
