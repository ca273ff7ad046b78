/**
 * `npm run bench`: the benchmark on each Node.js line of BENCH_LINES (default `24,22,26`; the first is the headline),
 * one after the other. Each line is a full run of bench/run.ts under that line's binary (scripts/node-line.mjs
 * fetches it once into .cache/), so that the servers, the load generator and every measuring child run on it. The
 * lines after the headline run the sections the targets need (support/config.ts). Then bench/results.json holds
 * every line's results, headline first, and bench/RESULTS.md shows them side by side.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeReport } from './report.js';
import { BENCH_DIR, buildPath, describe, ROOT_DIR, stopAll, track } from './support/children.js';
import { benchCommand, benchEnv } from './support/config.js';
import { machine } from './support/machine.js';
import type { BenchRun, Results } from './support/results.js';

const log = (line: string) => console.log(line);

function lines(): string[] {
  const raw = process.env['BENCH_LINES'];
  const list = (raw === undefined || raw.trim() === '' ? '24,22,26' : raw).split(',').map((part) => part.trim());
  for (const line of list) if (!/^\d+$/.test(line)) throw new Error(`BENCH_LINES must list Node.js major versions (got '${line}')`);
  if (new Set(list).size !== list.length) throw new Error('BENCH_LINES lists a line twice');
  return list;
}

/** The bin folder of a line's Node.js (downloaded on first use). */
function binFolder(line: string): string {
  return execFileSync(process.execPath, [join(ROOT_DIR, 'scripts', 'node-line.mjs'), line], { encoding: 'utf8' }).trim();
}

/** Runs bench/run.ts under `line`'s Node and resolves its results. */
async function runLine(line: string, headline: boolean, dir: string): Promise<Results> {
  const bin = binFolder(line);
  const out = join(dir, `node-${line}.json`);
  const child = spawn(join(bin, 'node'), [buildPath('run.js')], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      PATH: `${bin}:${process.env['PATH'] ?? ''}`,
      BENCH_LINE_OUT: out,
      BENCH_LINE_ROLE: headline ? 'headline' : 'other',
    },
  });
  track(child);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (exitCode, signal) => resolve(exitCode ?? (signal === null ? null : 128)));
  });
  let results: Results;
  try {
    results = JSON.parse(readFileSync(out, 'utf8')) as Results;
  } catch {
    throw new Error(`the Node ${line} run exited (${code}) without results`);
  }
  if (code !== 0) log(`bench   the Node ${line} run exited with ${code}`);
  return results;
}

/** A line that could not run at all, so that the report says so beside the others. */
function failedLine(line: string, headline: boolean, error: unknown): Results {
  const host = machine();
  return {
    run: {
      date: new Date().toISOString(),
      command: '',
      env: benchEnv(),
      machine: { ...host, node: `v${line} (not run)` },
      versions: {},
      line,
      headline,
    },
    config: {},
    failures: [{ section: 'line', error: describe(error) }],
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  const wanted = lines();
  const dir = mkdtempSync(join(tmpdir(), 'nestjs-connected-bench-lines-'));
  const document: BenchRun = {
    run: {
      date: new Date().toISOString(),
      command: benchCommand(),
      env: benchEnv(),
      machine: machine(),
      lines: wanted,
    },
    lines: [],
  };
  try {
    for (const [i, line] of wanted.entries()) {
      log(`bench   Node ${line}${i === 0 ? ' (headline)' : ''}`);
      try {
        document.lines.push(await runLine(line, i === 0, dir));
      } catch (error) {
        log(`bench   Node ${line} FAILED: ${describe(error).split('\n')[0]}`);
        document.lines.push(failedLine(line, i === 0, error));
      }
    }
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
  document.run.durationSeconds = Math.round((Date.now() - started) / 1000);
  writeFileSync(join(BENCH_DIR, 'results.json'), `${JSON.stringify(document, null, 2)}\n`);
  writeReport(document, BENCH_DIR);
  log(
    `bench   ${wanted.length} line(s) done in ${document.run.durationSeconds} s: bench/RESULTS.md, bench/results.json, bench/ratio-chart.svg`,
  );
  if (document.lines.some((results) => results.failures.length > 0)) process.exitCode = 1;
}

main().catch(async (error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  await stopAll();
  process.exit(1);
});
