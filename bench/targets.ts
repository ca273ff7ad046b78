/**
 * The targets the benchmark is held to, checked against one run's results: each with its figure and whether it was
 * met. RESULTS.md shows them first; the README's headline table is copied from them.
 */
import type { CellName, Results, VariantResult } from './support/results.js';

export interface TargetCheck {
  /** What is asked, in words. */
  target: string;
  /** The measured figure(s), in words. */
  figure: string;
  /** Undefined when a figure is missing (a pending or failed variant, a section not run). */
  met: boolean | undefined;
}

const READ_CELLS: readonly CellName[] = ['read-1', 'read-many'];

function variant(results: Results, id: string): VariantResult | undefined {
  const found = results.http?.variants.find((v) => v.id === id);
  return found?.status === 'ok' ? found : undefined;
}

function cellRate(v: VariantResult | undefined, cell: CellName): number | undefined {
  return v?.cells.find((c) => c.name === cell)?.result.requestsPerSecond;
}

function cellRatio(v: VariantResult | undefined, cell: CellName): number | undefined {
  return v?.cells.find((c) => c.name === cell)?.ratio;
}

const two = (n: number) => n.toFixed(2);

/** Every guarded-read cell of `id` at `floor` of its framework's ceiling or more. */
function ceilingTarget(results: Results, id: string, floor: number, framework: string): TargetCheck {
  const v = variant(results, id);
  const ratios = READ_CELLS.map((cell) => cellRatio(v, cell));
  const known = ratios.every((r): r is number => r !== undefined);
  return {
    target: `guarded read, nestjs-connected + MemoryStore ≥ ${floor} of the ${framework} ceiling`,
    figure: known ? READ_CELLS.map((cell, i) => `${two(ratios[i]!)} (${cell})`).join(', ') : 'no figure',
    met: known ? ratios.every((r) => r! >= floor) : undefined,
  };
}

/** nestjs-connected + RedisStore against express-session + connect-redis, both on Express. */
function redisTarget(results: Results): TargetCheck {
  const ours = variant(results, 'express-connected-redis');
  const theirs = variant(results, 'express-session-redis');
  const factors = READ_CELLS.map((cell) => {
    const a = cellRate(ours, cell);
    const b = cellRate(theirs, cell);
    return a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
  });
  const known = factors.every((f): f is number => f !== undefined);
  const ceiling = variant(results, 'express-ceiling');
  const room = READ_CELLS.map((cell) => {
    const c = cellRate(ceiling, cell);
    const b = cellRate(theirs, cell);
    return c !== undefined && b !== undefined && b > 0 ? c / b : undefined;
  });
  const roomText = room.every((r) => r !== undefined) ? `; the Express ceiling itself is ${room.map((r) => `${two(r!)}×`).join(', ')}` : '';
  return {
    target: 'guarded read, nestjs-connected + RedisStore ≥ 1.5× express-session + connect-redis (Express)',
    figure: known ? `${READ_CELLS.map((cell, i) => `${two(factors[i]!)}× (${cell})`).join(', ')}${roomText}` : 'no figure',
    met: known ? factors.every((f) => f! >= 1.5) : undefined,
  };
}

function memoryTarget(results: Results): TargetCheck {
  const ours = (results.memory ?? []).filter((m) => m.kind === 'connected' && m.ratioToFloor !== undefined);
  return {
    target: 'heap per idle connected session in MemoryStore ≤ 1.5× the Map floor',
    figure:
      ours.length === 0
        ? 'no figure'
        : ours
            .map((m) => `${two(m.ratioToFloor!)}× at ${m.sessions.toLocaleString('en-US')} (${Math.round(m.bytesPerSession)} B)`)
            .join(', '),
    met: ours.length === 0 ? undefined : ours.every((m) => m.ratioToFloor! <= 1.5),
  };
}

function growthTarget(results: Results): TargetCheck {
  const reads = (results.growth?.read ?? []).filter((g) => g.result !== undefined);
  const small = reads[0];
  const large = reads[reads.length - 1];
  if (small === undefined || large === undefined || small === large) {
    return {
      target: 'guarded read with 1,000,000 sessions stored within 10% of its speed with 1,000',
      figure: 'no figure',
      met: undefined,
    };
  }
  const ratio = large.result!.requestsPerSecond / small.result!.requestsPerSecond;
  return {
    target: `guarded read with ${large.stored.toLocaleString('en-US')} sessions stored within 10% of its speed with ${small.stored.toLocaleString('en-US')}`,
    figure: `${two(ratio)} of the req/s (p50 ${two(small.result!.p50)} → ${two(large.result!.p50)} ms)`,
    met: ratio >= 0.9,
  };
}

/** The issue's targets, in its order. */
export function checkTargets(results: Results): TargetCheck[] {
  return [
    ceilingTarget(results, 'express-connected-memory', 0.9, 'Express'),
    ceilingTarget(results, 'fastify-connected-memory', 0.7, 'Fastify'),
    redisTarget(results),
    memoryTarget(results),
    growthTarget(results),
  ];
}

export function verdict(check: TargetCheck): string {
  return check.met === undefined ? 'no figure' : check.met ? 'met' : '**missed**';
}
