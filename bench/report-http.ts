/** The HTTP part of one line's report: ratios to the ceiling by server CPU and by req/s, and every cell. */
import { calibrationOf, describeCalibration } from './calibration.js';
import { CHART_FILE } from './report-chart.js';
import { cellTitle, fixed, flagged, int, table, variantFlag } from './report-format.js';
import type { Cell, CellName, Results, VariantResult } from './support/results.js';

const CELL_NAMES: readonly CellName[] = ['read-1', 'write-1', 'read-many', 'write-many'];

/** `min–max` of the finite figures, when there are two or more. */
function range(values: number[] | undefined): string {
  const finite = (values ?? []).filter(Number.isFinite);
  return finite.length < 2 ? '' : ` (${Math.min(...finite).toFixed(2)}–${Math.max(...finite).toFixed(2)})`;
}

/** One row per variant, one column per cell that ran, `value` of each cell, and the range of `starts` beside it. */
function ratioTable(
  variants: VariantResult[],
  cells: CellName[],
  sessions: number,
  value: (cell: Cell) => number | undefined,
  starts: (cell: Cell) => number[] | undefined = () => undefined,
): string {
  const rows = variants.map((variant) => [
    variant.framework === 'express' ? 'Express' : 'Fastify',
    variant.label,
    ...cells.map((name) => {
      const cell = variant.cells.find((c) => c.name === name);
      const figure = cell === undefined ? undefined : value(cell);
      if (figure === undefined) return variant.status === 'ok' ? '–' : variant.status;
      return `${figure.toFixed(2)}${range(starts(cell!))}${flagged(cell!.result) ? ' ⚠' : ''}`;
    }),
  ]);
  return table(['framework', 'variant', ...cells.map((n) => cellTitle(n, sessions))], rows, `ll${'r'.repeat(cells.length)}`);
}

/** What the calibration variants measured, and how to read the ratios above in its light. */
function calibrationParagraph(results: Results): string {
  const found = (['express', 'fastify'] as const).map((framework) => calibrationOf(results, framework)).filter((c) => c !== undefined);
  if (found.length === 0) return '';
  const lines = found.map((c) => `- ${c.framework === 'express' ? 'Express' : 'Fastify'}: ${describeCalibration(c)}.`);
  return [
    '### Calibration',
    '',
    "The calibration rows are the ceiling with a known busy-wait in `GET /read` and `POST /write`; what they add to the ceiling's " +
      'server CPU per request says whether this machine adds costs as they are. Near the known figure, a ' +
      "variant's added µs are its own. Far above it, the machine inflates every added cost (a virtual machine whose " +
      'idle cores halt instead of polling: see the machine\'s "CPU idle" and bench/README.md, "Calibration"); far ' +
      "below it, a start of the ceiling itself went badly. Either way that cell's ratios say more about the run than " +
      'about the variants.',
    '',
    ...lines,
    '',
    '',
  ].join('\n');
}

export function httpSection(results: Results): string {
  const http = results.http;
  if (http === undefined) return '## HTTP\n\nNot run.';
  const { variants, sessions } = http;
  const cellNames = CELL_NAMES.filter((name) => variants.some((v) => v.cells.some((c) => c.name === name)));
  const out: string[] = [
    '## HTTP: guarded read and write, side by side',
    '',
    `Every variant is a NestJS app in its own process on 127.0.0.1; autocannon, ${http.connections} connections, ` +
      `${http.warmupSeconds} s warm-up then ${http.seconds} s measured per cell` +
      (http.rounds !== undefined && http.rounds > 1
        ? `, in ${http.rounds} slices interleaved with the other variants of the same framework (all running at once; req/s is the median slice)`
        : '') +
      (http.starts !== undefined && http.starts > 1
        ? `; every server was started ${http.starts} times, the slices shared out between the starts, each start warmed up`
        : '') +
      `. \`read\` = \`GET /read\` (guarded: 401 ` +
      `without a logged-in session, else the session's counter); \`write\` = \`POST /write\` (guarded, increments the ` +
      `counter and stores it). "1 session": every request carries the same cookie; "${int(sessions)} sessions": ` +
      `${int(sessions)} logins, each connection cycling round-robin through the cookies from its own offset. ` +
      "**Server CPU**: the server process's own `process.cpuUsage()` (user + system) read before and after each " +
      "measured slice, over the responses of the slices; redis-server's from `/proc/<pid>/stat` the same way. " +
      "**Ratio by server CPU** = the same framework's no-session ceiling's µs per request ÷ the variant's; " +
      "**ratio by req/s** = req/s ÷ the ceiling's, in this run." +
      (http.starts !== undefined && http.starts > 1
        ? ' In brackets: the lowest and highest ratio of one start against the same start of the ceiling. A server ' +
          'keeps the speed its start gave it for as long as it runs, and starts of one build differ by up to 3 µs a ' +
          'request (docs/ARCHITECTURE.md, "Per-request cost"): the ratio is over all starts, the brackets show how ' +
          'far one start reaches.'
        : ''),
    '',
    `![Guarded read over ${int(sessions)} sessions, ratio to the ceiling](${CHART_FILE})`,
    '',
    '### Ratio to the ceiling by server CPU',
    '',
    ratioTable(
      variants,
      cellNames,
      sessions,
      (cell) => cell.cpuRatio,
      (cell) => cell.startsCpuRatios,
    ),
    '',
    '### Ratio to the ceiling by req/s',
    '',
    ratioTable(variants, cellNames, sessions, (cell) => cell.ratio),
    '',
    '⚠ = non-2xx responses or errors in that cell: the variant is misconfigured and its number means nothing.',
    '',
    calibrationParagraph(results),
    '### Details',
    '',
  ];
  const rows: string[][] = [];
  for (const variant of variants) {
    const flag = variantFlag(variant);
    if (variant.cells.length === 0) {
      rows.push([`${variant.framework} · ${variant.label}`, '–', '–', '–', '–', '–', '–', '–', '–', flag]);
      continue;
    }
    for (const cell of variant.cells) {
      const r = cell.result;
      const bad = r.non2xx + r.errors + r.timeouts;
      rows.push([
        `${variant.framework} · ${variant.label}`,
        cellTitle(cell.name, cell.sessions),
        int(r.requestsPerSecond),
        fixed(r.p50),
        fixed(r.p99),
        fixed(r.serverCpuUsPerRequest, 1),
        fixed(r.redisCpuUsPerRequest, 1),
        fixed(cell.cpuRatio),
        bad > 0 ? `**${int(r.non2xx)} non-2xx, ${int(r.errors)} errors** ${JSON.stringify(r.statuses)}` : '0',
        flag,
      ]);
    }
  }
  out.push(
    table(
      ['variant', 'cell', 'req/s', 'p50 ms', 'p99 ms', 'server CPU µs/req', 'redis-server CPU µs/req', 'ratio by CPU', 'non-2xx', 'notes'],
      rows,
      'llrrrrrrll',
    ),
  );
  return out.join('\n');
}
