/** bench/ratio-chart.svg, written by hand (no chart library). */
import type { Cell, CellName, Results } from './support/results.js';
import { escapeXml, flagged, int } from './report-format.js';

export const CHART_FILE = 'ratio-chart.svg';
/** The cell the chart shows: the guarded read over many sessions. */
const CHART_CELL: CellName = 'read-many';

/** The figure of a bar: the ratio by server CPU, or by req/s in results from before CPU was measured. */
function ratioOf(cell: Cell | undefined): number | undefined {
  return cell?.cpuRatio ?? cell?.ratio;
}

/** The bar chart: one bar per variant (the chart cell's ratio to its framework's ceiling), grouped by framework. */
export function ratioChart(results: Results): string {
  const variants = results.http?.variants ?? [];
  const sessions = results.http?.sessions ?? 0;
  const byCpu = variants.some((v) => v.cells.some((c) => c.cpuRatio !== undefined));
  const ratios = variants.map((v) => ratioOf(v.cells.find((c) => c.name === CHART_CELL)) ?? 0);
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
      const ratio = ratioOf(cell);
      const label = escapeXml(variant.label);
      rows.push(`<text x="${labelWidth - 10}" y="${y + 17}" class="label" text-anchor="end">${label}</text>`);
      if (cell === undefined || ratio === undefined) {
        const why = variant.status === 'pending' ? 'pending' : variant.status === 'failed' ? 'failed' : 'no result';
        rows.push(`<text x="${labelWidth + 6}" y="${y + 17}" class="pending">${why}</text>`);
      } else {
        const w = Math.max(1, (ratio / scaleMax) * barArea);
        const kind = variant.id.endsWith('-ceiling') ? 'ceiling' : variant.id.includes('connected') ? 'connected' : 'other';
        const warn = flagged(cell.result) || variant.problems.length > 0 ? ' ⚠ non-2xx' : '';
        rows.push(`<rect x="${labelWidth}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowHeight - 9}" class="${kind}"/>`);
        rows.push(`<text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + 17}" class="value">${ratio.toFixed(2)}${warn}</text>`);
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
<text x="16" y="24" class="title">Guarded read over ${escapeXml(int(sessions))} sessions: ratio to the framework's no-session ceiling${byCpu ? ' by server CPU' : ' (req/s)'}</text>
<text x="16" y="44" class="subtitle">${byCpu ? "Higher is better; the ceiling's server CPU per request ÷ the variant's; 1.00 = costs what the same app without sessions costs." : 'Higher is better; 1.00 = the same NestJS app without sessions, measured in the same run.'}</text>
${rows.join('\n')}
<line x1="${one.toFixed(1)}" y1="${top - 4}" x2="${one.toFixed(1)}" y2="${y - 4}" stroke="#555" stroke-dasharray="4 3"/>
<text x="${one.toFixed(1)}" y="${y + 10}" class="note" text-anchor="middle">1.0</text>
<text x="16" y="${height - 24}" class="note">${escapeXml(`${machine.cpu}, ${machine.cores} cores${machine.serverCpu !== undefined ? ', the server on a core of its own' : ' shared by server and load generator'}; Node ${machine.node}; ${results.run.date.slice(0, 10)}.`)}</text>
<text x="16" y="${height - 10}" class="note">Absolute req/s depend on the machine: compare ratios within one run only.</text>
</svg>
`;
}
