/**
 * bench/RESULTS.md and bench/ratio-chart.svg from one run's results (bench/results.json). No chart library: the SVG
 * is written by hand. `node bench/.build/report.js` rewrites both from an existing results.json.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BENCH_DIR } from './support/children.js';
import type { LoadResult } from './support/load.js';
import type { Cell, CellName, Results, VariantResult } from './support/results.js';
import { checkTargets, verdict } from './targets.js';

const CHART_FILE = 'ratio-chart.svg';
/** The cell the chart shows: the guarded read over many sessions. */
const CHART_CELL: CellName = 'read-many';

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const fixed = (n: number | undefined, digits = 2) => (n !== undefined && Number.isFinite(n) ? n.toFixed(digits) : '–');
const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`;
const gb = (bytes: number) => `${(bytes / 1_073_741_824).toFixed(1)} GiB`;

function cellTitle(name: CellName, sessions: number): string {
  const [op, count] = name.split('-') as [string, string];
  return `${op}, ${count === '1' ? '1 session' : `${int(sessions)} sessions`}`;
}

function flagged(result: LoadResult): boolean {
  return result.non2xx > 0 || result.errors > 0 || result.timeouts > 0;
}

function variantFlag(variant: VariantResult): string {
  if (variant.status === 'pending') return `pending: ${variant.reason ?? ''}`;
  if (variant.status === 'failed') return `FAILED: ${(variant.reason ?? '').split('\n')[0]}`;
  if (variant.problems.length > 0) return `CHECK FAILED: ${variant.problems.join('; ')}`;
  return '';
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** The bar chart: one bar per variant (the chart cell's ratio to its framework's ceiling), grouped by framework. */
export function ratioChart(results: Results): string {
  const variants = results.http?.variants ?? [];
  const sessions = results.http?.sessions ?? 0;
  const ratios = variants.map((v) => v.cells.find((c) => c.name === CHART_CELL)?.ratio ?? 0);
  const scaleMax = Math.max(1, ...ratios) * 1.08;
  const width = 820;
  const labelWidth = 300;
  const barArea = width - labelWidth - 90;
  const rowHeight = 28;
  const top = 64;
  const rows: string[] = [];
  let y = top;
  for (const framework of ['express', 'fastify'] as const) {
    const group = variants.filter((v) => v.framework === framework);
    if (group.length === 0) continue;
    rows.push(`<text x="16" y="${y + 16}" class="group">${framework === 'express' ? 'Express' : 'Fastify'}</text>`);
    y += rowHeight;
    for (const variant of group) {
      const cell = variant.cells.find((c) => c.name === CHART_CELL);
      const label = escapeXml(variant.label);
      rows.push(`<text x="${labelWidth - 10}" y="${y + 17}" class="label" text-anchor="end">${label}</text>`);
      if (cell?.ratio === undefined) {
        const why = variant.status === 'pending' ? 'pending' : variant.status === 'failed' ? 'failed' : 'no result';
        rows.push(`<text x="${labelWidth + 6}" y="${y + 17}" class="pending">${why}</text>`);
      } else {
        const w = Math.max(1, (cell.ratio / scaleMax) * barArea);
        const kind = variant.id.endsWith('-ceiling') ? 'ceiling' : variant.id.includes('connected') ? 'connected' : 'other';
        const warn = flagged(cell.result) || variant.problems.length > 0 ? ' ⚠ non-2xx' : '';
        rows.push(`<rect x="${labelWidth}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowHeight - 9}" class="${kind}"/>`);
        rows.push(`<text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + 17}" class="value">${cell.ratio.toFixed(2)}${warn}</text>`);
      }
      y += rowHeight;
    }
    y += 8;
  }
  const one = labelWidth + barArea / scaleMax;
  const height = y + 52;
  const machine = results.run.machine;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">
<style>
  .title { font-size: 15px; font-weight: bold; fill: #222; }
  .subtitle { font-size: 12px; fill: #555; }
  .group { font-size: 13px; font-weight: bold; fill: #222; }
  .label { font-size: 12px; fill: #333; }
  .value { font-size: 12px; fill: #222; }
  .pending { font-size: 12px; fill: #999; font-style: italic; }
  .note { font-size: 11px; fill: #777; }
  .ceiling { fill: #a0aec0; }
  .connected { fill: #2b6cb0; }
  .other { fill: #dd8a3e; }
</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="16" y="24" class="title">Guarded read over ${escapeXml(int(sessions))} sessions: req/s as a ratio to the framework's no-session ceiling</text>
<text x="16" y="44" class="subtitle">Higher is better; 1.00 = the same NestJS app without sessions, measured in the same run.</text>
${rows.join('\n')}
<line x1="${one.toFixed(1)}" y1="${top - 4}" x2="${one.toFixed(1)}" y2="${y - 4}" stroke="#555" stroke-dasharray="4 3"/>
<text x="${one.toFixed(1)}" y="${y + 10}" class="note" text-anchor="middle">1.0</text>
<text x="16" y="${height - 24}" class="note">${escapeXml(`${machine.cpu}, ${machine.cores} cores shared by server and load generator; Node ${machine.node}; ${results.run.date.slice(0, 10)}.`)}</text>
<text x="16" y="${height - 10}" class="note">Absolute req/s depend on the machine: compare ratios within one run only.</text>
</svg>
`;
}

/** A markdown table; `align` has one letter per column, `l` or `r` (default: the first left, the others right). */
function table(header: string[], rows: string[][], align?: string): string {
  const side = (i: number) => (align?.[i] ?? (i === 0 ? 'l' : 'r')) === 'r';
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (side(i) ? '---:' : '---')).join('|')}|`];
  for (const row of rows) lines.push(`| ${row.map(escapeCell).join(' | ')} |`);
  return lines.join('\n');
}

function machineSection(results: Results): string {
  const { run } = results;
  const env = Object.entries(run.env);
  const lines = [
    '## Machine and run',
    '',
    table(
      ['', ''],
      [
        ['date', run.date],
        ['CPU', run.machine.cpu],
        ['cores', String(run.machine.cores)],
        ['RAM', gb(run.machine.ramBytes)],
        ['OS', run.machine.os],
        ['Node.js', run.machine.node],
        ['command', `\`${run.command}\``],
        ['environment', env.length === 0 ? 'none (the defaults)' : env.map(([k, v]) => `\`${k}=${v}\``).join(' ')],
        ['duration of the run', run.durationSeconds === undefined ? '–' : `${int(run.durationSeconds)} s`],
      ],
      'll',
    ),
    '',
    table(
      ['package', 'version'],
      Object.entries(run.versions).map(([name, version]) => [name, version]),
      'll',
    ),
  ];
  return lines.join('\n');
}

function httpSection(results: Results): string {
  const http = results.http;
  if (http === undefined) return '## HTTP\n\nNot run.';
  const { variants, sessions } = http;
  const cellNames: CellName[] = ['read-1', 'write-1', 'read-many', 'write-many'];
  const out: string[] = [
    '## HTTP: guarded read and write, side by side',
    '',
    `Every variant is a NestJS app in its own process on 127.0.0.1; autocannon, ${http.connections} connections, ` +
      `${http.warmupSeconds} s warm-up then ${http.seconds} s measured per cell` +
      (http.rounds !== undefined && http.rounds > 1
        ? `, in ${http.rounds} slices interleaved with the other variants of the same framework (all running at once; req/s is the median slice)`
        : '') +
      `. \`read\` = \`GET /read\` (guarded: 401 ` +
      `without a logged-in session, else the session's counter); \`write\` = \`POST /write\` (guarded, increments the ` +
      `counter and stores it). "1 session": every request carries the same cookie; "${int(sessions)} sessions": ` +
      `${int(sessions)} logins, each connection cycling round-robin through the cookies from its own offset. **Ratio** = req/s ÷ req/s of the same ` +
      "framework's no-session ceiling in this run.",
    '',
    `![Guarded read over ${int(sessions)} sessions, ratio to the ceiling](${CHART_FILE})`,
    '',
    '### Ratio to the ceiling (req/s)',
    '',
  ];
  const ratioRows: string[][] = [];
  for (const variant of variants) {
    const row = [variant.framework === 'express' ? 'Express' : 'Fastify', variant.label];
    for (const name of cellNames) {
      const cell = variant.cells.find((c) => c.name === name);
      row.push(
        cell?.ratio === undefined
          ? variant.status === 'ok'
            ? '–'
            : variant.status
          : `${cell.ratio.toFixed(2)}${flagged(cell.result) ? ' ⚠' : ''}`,
      );
    }
    ratioRows.push(row);
  }
  out.push(table(['framework', 'variant', ...cellNames.map((n) => cellTitle(n, sessions))], ratioRows, 'llrrrr'));
  out.push('', '⚠ = non-2xx responses or errors in that cell: the variant is misconfigured and its number means nothing.', '');
  out.push('### Details', '');
  const rows: string[][] = [];
  for (const variant of variants) {
    const flag = variantFlag(variant);
    if (variant.cells.length === 0) {
      rows.push([`${variant.framework} · ${variant.label}`, '–', '–', '–', '–', '–', '–', flag]);
      continue;
    }
    for (const cell of variant.cells as Cell[]) {
      const r = cell.result;
      const bad = r.non2xx + r.errors + r.timeouts;
      rows.push([
        `${variant.framework} · ${variant.label}`,
        cellTitle(cell.name, cell.sessions),
        int(r.requestsPerSecond),
        fixed(r.p50),
        fixed(r.p99),
        fixed(cell.ratio),
        bad > 0 ? `**${int(r.non2xx)} non-2xx, ${int(r.errors)} errors** ${JSON.stringify(r.statuses)}` : '0',
        flag,
      ]);
    }
  }
  out.push(table(['variant', 'cell', 'req/s', 'p50 ms', 'p99 ms', 'ratio', 'non-2xx', 'notes'], rows, 'llrrrrll'));
  return out.join('\n');
}

function memorySection(results: Results): string {
  const memory = results.memory;
  if (memory === undefined) return '## Memory per idle session\n\nNot run.';
  return [
    '## Memory per idle session',
    '',
    'A child process per row (`node --expose-gc`): `heapUsed + arrayBuffers` after `gc()` before and after filling the store, divided ' +
      'by the count. nestjs-connected: `MemoryStore.create()` with records shaped as a login writes them (43-character ' +
      'SHA-256 key, user id over 10,000 users, epoch, four times, address, a browser User-Agent, `data: {}`). ' +
      'express-session: `MemoryStore.set(sid, { cookie, userId })` (it keeps JSON strings). Floor: ' +
      '`Map<string, { userId }>`. Same ids and user ids in all three.',
    '',
    table(
      ['store', 'sessions', 'bytes per session', 'ratio to the Map floor', 'heap after', 'fill time'],
      memory.map((m) => [
        `\`${m.store}\``,
        int(m.sessions),
        int(m.bytesPerSession),
        fixed(m.ratioToFloor),
        mb(m.heapAfter),
        `${fixed(m.fillMs / 1000, 1)} s`,
      ]),
    ),
  ].join('\n');
}

function growthSection(results: Results): string {
  const growth = results.growth;
  if (growth === undefined) return '## Growth with the number of sessions\n\nNot run.';
  const out = ['## Growth with the number of sessions (nestjs-connected + MemoryStore)', ''];
  out.push('### (a) Guarded read, Express, as the store fills', '');
  if (growth.read.length > 0) {
    const base = growth.read[0]?.result;
    out.push(
      `The \`read\` cell over ${int(growth.read[0]?.loggedIn ?? 0)} logged-in sessions, in a server whose MemoryStore holds ` +
        'only them, and in one prefilled (through `create()`, at start-up) with connected sessions of 10,000 users.',
      '',
      table(
        ['sessions stored', 'req/s', 'p50 ms', 'p99 ms', 'req/s vs the smallest store', 'p50 vs the smallest store', 'non-2xx'],
        growth.read.map((g) => {
          const r = g.result;
          return [
            int(g.stored),
            r ? int(r.requestsPerSecond) : '–',
            fixed(r?.p50),
            fixed(r?.p99),
            r && base ? fixed(r.requestsPerSecond / base.requestsPerSecond) : '–',
            r && base ? fixed(r.p50 / base.p50) : '–',
            r
              ? (r.non2xx + r.errors > 0 ? `**${int(r.non2xx)} non-2xx, ${int(r.errors)} errors**` : '0') +
                (g.problems.length ? ` ${g.problems.join('; ')}` : '')
              : '–',
          ];
        }),
      ),
    );
  } else {
    out.push('No result.');
  }
  out.push('', '### (b) `disconnectAll` of a user with 10 sessions', '');
  out.push(
    'In-process, median of the repetitions after a warm-up one, `gc()` before each: the store call `closeUser(userId)`, and ' +
      "`SessionService.disconnectAll({ userId })` (events, values' clean-up) in a Nest application context on the same store.",
    '',
    table(
      ['sessions stored', "user's sessions", 'store.closeUser ms', 'SessionService.disconnectAll ms', 'runs'],
      growth.disconnectAll.map((d) => [
        int(d.stored),
        int(d.userSessions),
        fixed(d.store.medianMs, 3),
        fixed(d.service?.medianMs, 3),
        String(d.store.runsMs.length),
      ]),
    ),
  );
  out.push('', '### (c) Expiry sweep', '');
  out.push(
    "Sessions expiring within the same second, swept by the MemoryStore's own once-a-second timer (no fake timers, no " +
      'manual call: the instance\'s `sweep` is wrapped to time the call the timer makes). "bare": the store alone; "with ' +
      'SessionModule": the library\'s lifecycle subscribed to removals, as in an app; "until idle": from the start of ' +
      "the sweep until the event loop runs the next `setImmediate` (the listeners' asynchronous work included).",
    '',
    table(
      ['sessions stored', 'expiring at once', 'sweep, bare store ms', 'sweep, with SessionModule ms', 'until idle ms', 'runs'],
      growth.sweep.map((s) => [
        int(s.stored),
        int(s.expiring),
        fixed(s.bare?.medianMs, 1),
        fixed(s.app?.medianMs, 1),
        fixed(s.app?.medianUntilIdleMs, 1),
        String(s.bare?.runsMs.length ?? s.app?.runsMs.length ?? 0),
      ]),
    ),
  );
  if (growth.problems.length > 0) out.push('', ...growth.problems.map((p) => `- **Problem:** ${p}`));
  return out.join('\n');
}

function socketsSection(results: Results): string {
  const sockets = results.sockets;
  if (sockets === undefined) return '## WebSockets\n\nNot run.';
  const plainSocket = sockets.heap.find((h) => h.mode === 'plain')?.bytesPerSocket;
  const plainOpen = sockets.messages.find((m) => m.mode === 'plain' && m.handler === 'open')?.messagesPerSecond;
  const name = (mode: string) => (mode === 'plain' ? "Nest's IoAdapter, no sessions" : 'nestjs-connected SessionIoAdapter');
  const out = [
    '## WebSockets (socket.io)',
    '',
    'One server process (Express, `--expose-gc`) holds the sockets, each opened with its own logged-in cookie ' +
      "(nestjs-connected) or none (plain). Heap per socket = the server's own `heapUsed + arrayBuffers` after `gc()` (GET /bench/heap, " +
      'a bench-only route) after opening the sockets minus before, divided by the count. Messages: senders emit a number ' +
      'and await its ack in a loop.',
    '',
    table(
      ['server', 'sockets', 'heap per socket', 'ratio to plain', 'heap per logged-in session (before the sockets)'],
      sockets.heap.map((h) => [
        name(h.mode),
        int(h.sockets),
        `${int(h.bytesPerSocket)} B`,
        plainSocket ? fixed(h.bytesPerSocket / plainSocket) : '–',
        h.bytesPerSession === undefined ? '–' : `${int(h.bytesPerSession)} B`,
      ]),
    ),
    '',
    table(
      ['server', 'handler', 'senders', 'messages/s', 'p50 ms', 'p99 ms', 'ratio to plain `open`', 'errors'],
      sockets.messages.map((m) => [
        name(m.mode),
        m.handler === 'guarded' ? '`@Connected()` `guarded`' : 'unguarded `open`',
        int(m.senders),
        int(m.messagesPerSecond),
        fixed(m.p50),
        fixed(m.p99),
        plainOpen ? fixed(m.messagesPerSecond / plainOpen) : '–',
        m.errors > 0 ? `**${int(m.errors)}**` : '0',
      ]),
      'llrrrrrr',
    ),
  ];
  if (sockets.problems.length > 0) out.push('', ...sockets.problems.map((p) => `- **Problem:** ${p}`));
  return out.join('\n');
}

function targetsSection(results: Results): string {
  return [
    '## Targets',
    '',
    'Ratios from this run (bench/targets.ts checks them).',
    '',
    table(
      ['target', 'measured', ''],
      checkTargets(results).map((check) => [check.target, check.figure, verdict(check)]),
      'lll',
    ),
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

export function renderMarkdown(results: Results): string {
  const changed = Object.entries(results.run.env).map(([k, v]) => `\`${k}=${v}\``);
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
    `Written by \`${results.run.command}\` (bench/run.ts) on ${results.run.date}; raw numbers in [results.json](results.json). ` +
      'What is measured and how to read it: [README.md](README.md). The server and the load generator share the same ' +
      'cores, so absolute numbers depend on the machine: compare **ratios within this run**.',
    '',
    targetsSection(results),
    '',
    machineSection(results),
    '',
    httpSection(results),
    '',
    memorySection(results),
    '',
    growthSection(results),
    '',
    socketsSection(results),
    '',
    problemsSection(results),
    '',
  ].join('\n');
}

/** Writes RESULTS.md and the chart into `dir`. */
export function writeReport(results: Results, dir: string): void {
  writeFileSync(join(dir, 'RESULTS.md'), renderMarkdown(results));
  writeFileSync(join(dir, CHART_FILE), ratioChart(results));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = JSON.parse(readFileSync(join(BENCH_DIR, 'results.json'), 'utf8')) as Results;
  writeReport(results, BENCH_DIR);
  console.log('bench/RESULTS.md and bench/ratio-chart.svg rewritten from bench/results.json');
}
