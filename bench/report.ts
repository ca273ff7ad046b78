/**
 * bench/RESULTS.md and bench/ratio-chart.svg from a run's results (bench/results.json): the targets side by side,
 * one column per Node.js line (the headline first), then each line's tables. `node bench/.build/report.js` rewrites
 * both from an existing results.json.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CHART_FILE, ratioChart } from './report-chart.js';
import { fixed, flagged, gb, int, table, variantFlag } from './report-format.js';
import { httpSection } from './report-http.js';
import { growthSection, liveMemorySection, memorySection, socketsSection, windowSection } from './report-sections.js';
import { BENCH_DIR } from './support/children.js';
import { asBenchRun, type BenchRun, type Results } from './support/results.js';
import { checkTargets, verdict } from './targets.js';

function lineName(results: Results): string {
  const line = results.run.line ?? results.run.machine.node.replace(/^v(\d+).*/, '$1');
  return `Node ${line}${results.run.headline === false ? '' : ' (headline)'}`;
}

function machineSection(document: BenchRun): string {
  const { run } = document;
  const env = Object.entries(run.env);
  const first = document.lines[0];
  return [
    '## Machine and run',
    '',
    table(
      ['', ''],
      [
        ['date', run.date],
        ['CPU', run.machine.cpu],
        ['cores', String(run.machine.cores)],
        ['CPU pinning', run.machine.pinning ?? 'none'],
        ['CPU idle', run.machine.idle ?? 'not known'],
        ['RAM', gb(run.machine.ramBytes)],
        ['OS', run.machine.os],
        ['Node.js lines', document.lines.map((r) => `${r.run.machine.node} (${int(r.run.durationSeconds ?? Number.NaN)} s)`).join(', ')],
        ['command', `\`${run.command}\``],
        ['environment', env.length === 0 ? 'none (the defaults)' : env.map(([k, v]) => `\`${k}=${v}\``).join(' ')],
        ['duration of the run', run.durationSeconds === undefined ? '–' : `${int(run.durationSeconds)} s`],
      ],
      'll',
    ),
    '',
    first === undefined
      ? ''
      : table(
          ['package', 'version'],
          Object.entries(first.run.versions).map(([name, version]) => [name, version]),
          'll',
        ),
  ].join('\n');
}

/** Every target, one column per line. */
function targetsSection(document: BenchRun): string {
  const checks = document.lines.map((results) => checkTargets(results));
  const rows = (checks[0] ?? []).map((first, i) => [
    first.target,
    ...checks.map((line) => {
      const check = line[i]!;
      return check.met === undefined ? check.figure : `${verdict(check)}: ${check.figure}`;
    }),
  ]);
  return [
    '## Targets',
    '',
    'Issue 15\'s targets (bench/targets.ts checks them), one column per Node.js line. "By server CPU" = µs of the ' +
      "server process's CPU per request of the framework's no-session ceiling ÷ the variant's, same cell, same line.",
    '',
    table(['target', ...document.lines.map(lineName)], rows, 'l'.repeat(rows[0]?.length ?? 2)),
  ].join('\n');
}

/** Server CPU per guarded read of every variant, one column per line and read cell. */
function linesCpuSection(document: BenchRun): string {
  const lines = document.lines.filter((results) => results.http !== undefined);
  const ids = [...new Set(lines.flatMap((results) => results.http!.variants.map((v) => v.id)))];
  if (lines.length === 0 || ids.length === 0) return '';
  const reads = ['read-1', 'read-many'] as const;
  const rows = ids.map((id) => {
    const found = lines.map((results) => results.http!.variants.find((v) => v.id === id));
    const label = found.find((v) => v !== undefined)!;
    return [
      `${label.framework === 'express' ? 'Express' : 'Fastify'} · ${label.label}`,
      ...found.flatMap((v) =>
        reads.map((name) => {
          const cell = v?.cells.find((c) => c.name === name);
          const cpu = cell?.result.serverCpuUsPerRequest;
          if (cell === undefined || cpu === undefined) return v === undefined || v.status === 'ok' ? '–' : v.status;
          const redis = cell.result.redisCpuUsPerRequest;
          return `${fixed(cpu, 1)} (${fixed(cell.cpuRatio)})${redis === undefined ? '' : ` + redis ${fixed(redis, 1)}`}`;
        }),
      ),
    ];
  });
  const header = ['variant', ...lines.flatMap((results) => reads.map((name) => `${lineName(results)}, ${name}`))];
  return [
    '## Server CPU per guarded read, line by line',
    '',
    "µs of the server's CPU per request (in brackets: the ratio by server CPU to the same line's ceiling); for the " +
      "Redis rows, `+ redis` is redis-server's µs per request.",
    '',
    table(header, rows, `l${'r'.repeat(header.length - 1)}`),
  ].join('\n');
}

function problemsSection(results: Results): string {
  const lines: string[] = [];
  for (const variant of results.http?.variants ?? []) {
    const flag = variantFlag(variant);
    if (flag) lines.push(`- ${variant.id}: ${flag}`);
    for (const cell of variant.cells) {
      if (flagged(cell.result)) {
        lines.push(
          `- ${variant.id} ${cell.name}: ${int(cell.result.non2xx)} non-2xx, ${int(cell.result.errors)} errors ${JSON.stringify(cell.result.statuses)}`,
        );
      }
    }
  }
  for (const failure of results.failures) lines.push(`- section ${failure.section} failed: ${failure.error.split('\n')[0]}`);
  return ['## Flags and pending rows', '', lines.length === 0 ? 'None: every cell answered 2xx only.' : lines.join('\n')].join('\n');
}

/** One line's tables, their headings one level down under the line's own. */
function lineSection(results: Results): string {
  const parts = [
    results.http && httpSection(results),
    windowSection(results),
    liveMemorySection(results),
    results.memory && memorySection(results),
    results.growth && growthSection(results),
    results.sockets && socketsSection(results),
    problemsSection(results),
  ].filter((part): part is string => typeof part === 'string' && part !== '');
  const body = parts.join('\n\n').replace(/^(#+) /gm, '#$1 ');
  return [`## ${lineName(results)}: ${results.run.machine.node}`, '', body].join('\n');
}

export function renderMarkdown(document: BenchRun): string {
  const changed = Object.entries(document.run.env).map(([k, v]) => `\`${k}=${v}\``);
  const banner =
    changed.length === 0
      ? []
      : [
          `> **Not a default run**: ${changed.join(' ')}. Shorter or smaller settings are for trying the harness out; ` +
            "the benchmark's numbers come from `npm run bench` with no BENCH_* variables, on an otherwise idle machine.",
          '',
        ];
  return [
    '# Benchmark results',
    '',
    ...banner,
    `Written by \`${document.run.command}\` (bench/lines.ts, bench/run.ts) on ${document.run.date}; raw numbers in ` +
      '[results.json](results.json). What is measured and how to read it: [README.md](README.md). Absolute numbers ' +
      'depend on the machine and on where the servers and the load generator ran (CPU pinning, below): compare ' +
      '**ratios within one line of this run**.',
    '',
    targetsSection(document),
    '',
    linesCpuSection(document),
    '',
    machineSection(document),
    '',
    ...document.lines.flatMap((results) => [lineSection(results), '']),
  ].join('\n');
}

/** Writes RESULTS.md and the chart (of the headline line) into `dir`. */
export function writeReport(document: BenchRun, dir: string): void {
  writeFileSync(join(dir, 'RESULTS.md'), renderMarkdown(document));
  const headline = document.lines[0];
  if (headline !== undefined) writeFileSync(join(dir, CHART_FILE), ratioChart(headline));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const document = asBenchRun(JSON.parse(readFileSync(join(BENCH_DIR, 'results.json'), 'utf8')) as BenchRun | Results);
  writeReport(document, BENCH_DIR);
  console.log('bench/RESULTS.md and bench/ratio-chart.svg rewritten from bench/results.json');
}
