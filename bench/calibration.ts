/**
 * What the calibration variants say about a run: the µs of server CPU per request that a known busy-wait added to
 * the ceiling, per read cell. Near the known figure, CPU per request is additive on that machine and a variant's
 * "adds x µs" is its own cost; far above it, every added cost comes out inflated as much (docs/ARCHITECTURE.md,
 * "Per-request cost"). The report and the targets both show it beside the ratios.
 */
import { READ_CELLS, type CellName, type Results } from './support/results.js';

export interface Calibration {
  framework: 'express' | 'fastify';
  /** µs of busy-waiting added to each request. */
  known: number;
  /** µs of server CPU per request over the ceiling's, per read cell that both ran. */
  measured: Array<{ cell: CellName; us: number }>;
}

/** Measured over known, inside which the machine counts as adding costs as they are (starts differ by 1-3 µs). */
export const ADDITIVE = { low: 0.5, high: 1.5 } as const;

/** The framework's calibration, or undefined when the run has none (older runs, a failed variant). */
export function calibrationOf(results: Results, framework: 'express' | 'fastify'): Calibration | undefined {
  const http = results.http;
  const known = http?.calibrationUs;
  const ok = (id: string) => http?.variants.find((v) => v.id === id && v.status === 'ok');
  const spun = ok(`${framework}-calibration`);
  const ceiling = ok(`${framework}-ceiling`);
  if (known === undefined || spun === undefined || ceiling === undefined) return undefined;
  const measured: Calibration['measured'] = [];
  for (const cell of READ_CELLS) {
    const a = spun.cells.find((c) => c.name === cell)?.result.serverCpuUsPerRequest;
    const b = ceiling.cells.find((c) => c.name === cell)?.result.serverCpuUsPerRequest;
    if (a !== undefined && b !== undefined && Number.isFinite(a - b)) measured.push({ cell, us: a - b });
  }
  return measured.length === 0 ? undefined : { framework, known, measured };
}

/** Whether every cell measured the known cost within {@link ADDITIVE}. */
export function isAdditive(calibration: Calibration): boolean {
  return calibration.measured.every(({ us }) => us >= ADDITIVE.low * calibration.known && us <= ADDITIVE.high * calibration.known);
}

/** "a known 4 µs measured 3.6 µs (read-1), 4.4 µs (read-many)", with a warning when not additive. */
export function describeCalibration(calibration: Calibration): string {
  const figures = calibration.measured.map(({ cell, us }) => `${us.toFixed(1)} µs (${cell})`).join(', ');
  const factors = calibration.measured.map(({ us }) => (us / calibration.known).toFixed(1)).join(', ');
  return (
    `a known ${calibration.known} µs measured ${figures}` +
    (isAdditive(calibration) ? '' : `: **not additive on this machine** (measured ÷ known ${factors})`)
  );
}
