/**
 * Issue 15's targets, checked against one line's results: each with its figure and whether it was met. Ratios are
 * "by server CPU": µs of the server process's CPU per request, the ceiling's over the variant's, so that 0.9 means
 * the session layer adds a ninth of the ceiling's own cost. RESULTS.md shows them first, one column per line.
 */
import { calibrationOf, describeCalibration } from './calibration.js';
import { READ_CELLS, type CellName, type Results, type VariantResult } from './support/results.js';

export interface TargetCheck {
  /** Stable across lines, to put the same target side by side. */
  id: string;
  /** What is asked, in words. */
  target: string;
  /** The measured figure(s), in words. */
  figure: string;
  /** Undefined when a figure is missing (a pending or failed variant, a section not run). */
  met: boolean | undefined;
}

function variant(results: Results, id: string): VariantResult | undefined {
  const found = results.http?.variants.find((v) => v.id === id);
  return found?.status === 'ok' ? found : undefined;
}

function cellOf(v: VariantResult | undefined, cell: CellName) {
  return v?.cells.find((c) => c.name === cell);
}

const two = (n: number) => n.toFixed(2);
const us = (n: number) => `${n.toFixed(1)} µs`;

/** One figure per read cell, or undefined when any is missing. */
function perCell(compute: (cell: CellName) => number | undefined): number[] | undefined {
  const values = READ_CELLS.map(compute);
  return values.every((v): v is number => v !== undefined && Number.isFinite(v)) ? values : undefined;
}

function labelled(values: number[], format: (n: number) => string): string {
  return values.map((v, i) => `${format(v)} (${READ_CELLS[i]})`).join(', ');
}

/** Guarded read on MemoryStore against the framework's ceiling, by server CPU. */
function ceilingTarget(results: Results, framework: 'express' | 'fastify', floor: number): TargetCheck {
  const name = framework === 'express' ? 'Express' : 'Fastify';
  const ours = variant(results, `${framework}-connected-memory`);
  const ceiling = variant(results, `${framework}-ceiling`);
  const ratios = perCell((cell) => cellOf(ours, cell)?.cpuRatio);
  const added = perCell((cell) => {
    const a = cellOf(ours, cell)?.result.serverCpuUsPerRequest;
    const c = cellOf(ceiling, cell)?.result.serverCpuUsPerRequest;
    return a !== undefined && c !== undefined ? a - c : undefined;
  });
  const base = perCell((cell) => cellOf(ceiling, cell)?.result.serverCpuUsPerRequest);
  const rates = perCell((cell) => cellOf(ours, cell)?.ratio);
  const starts = READ_CELLS.map((cell) => (cellOf(ours, cell)?.startsCpuRatios ?? []).filter(Number.isFinite));
  const calibration = calibrationOf(results, framework);
  const byStart = starts.every((values) => values.length > 1)
    ? `; one start against one start of the ceiling ${starts.map((values) => values.map(two).join('/')).join(', ')}`
    : '';
  return {
    id: `${framework}-ceiling`,
    target: `guarded read, nestjs-connected + MemoryStore ≥ ${floor} of the ${name} ceiling by server CPU`,
    figure:
      ratios === undefined
        ? 'no figure'
        : `${labelled(ratios, two)}` +
          (added && base ? `; adds ${added.map(us).join(', ')} to ${base.map(us).join(', ')}` : '') +
          byStart +
          (rates ? `; by req/s ${rates.map(two).join(', ')}` : '') +
          (calibration ? `; calibration: ${describeCalibration(calibration)}` : ''),
    met: ratios === undefined ? undefined : ratios.every((r) => r >= floor),
  };
}

/** `numerator`'s server CPU per request over `denominator`'s, per read cell (how many times cheaper the latter is). */
function cpuFactor(results: Results, numerator: string, denominator: string): number[] | undefined {
  const a = variant(results, numerator);
  const b = variant(results, denominator);
  return perCell((cell) => {
    const x = cellOf(a, cell)?.result.serverCpuUsPerRequest;
    const y = cellOf(b, cell)?.result.serverCpuUsPerRequest;
    return x !== undefined && y !== undefined && y > 0 ? x / y : undefined;
  });
}

/** RedisStore's guarded read against the same library's MemoryStore read, on both frameworks. */
function nearCacheTarget(results: Results): TargetCheck {
  const express = cpuFactor(results, 'express-connected-memory', 'express-connected-redis');
  const fastify = cpuFactor(results, 'fastify-connected-memory', 'fastify-connected-redis');
  const parts = [express && `Express ${labelled(express, two)}`, fastify && `Fastify ${labelled(fastify, two)}`].filter(Boolean);
  const all = [...(express ?? []), ...(fastify ?? [])];
  return {
    id: 'redis-vs-memory',
    target: 'guarded read, nestjs-connected + RedisStore ≥ 0.9 of its MemoryStore read by server CPU',
    figure: parts.length === 0 ? 'no figure' : parts.join('; '),
    met: express === undefined || fastify === undefined ? undefined : all.every((r) => r >= 0.9),
  };
}

/** nestjs-connected + RedisStore against express-session + connect-redis, both on Express. */
function connectRedisTarget(results: Results): TargetCheck {
  const factors = cpuFactor(results, 'express-session-redis', 'express-connected-redis');
  const ours = variant(results, 'express-connected-redis');
  const theirs = variant(results, 'express-session-redis');
  const rates = perCell((cell) => {
    const a = cellOf(ours, cell)?.result.requestsPerSecond;
    const b = cellOf(theirs, cell)?.result.requestsPerSecond;
    return a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
  });
  return {
    id: 'redis-vs-connect-redis',
    target: 'guarded read, nestjs-connected + RedisStore ≥ 1.5× express-session + connect-redis by server CPU (Express)',
    figure:
      factors === undefined
        ? 'no figure'
        : `${labelled(factors, (f) => `${two(f)}×`)}${rates ? `; by req/s ${rates.map((r) => `${two(r)}×`).join(', ')}` : ''}`,
    met: factors === undefined ? undefined : factors.every((f) => f >= 1.5),
  };
}

/** redis-server CPU per guarded read: ours at most connect-redis's. */
function redisServerTarget(results: Results): TargetCheck {
  const ours = variant(results, 'express-connected-redis');
  const theirs = variant(results, 'express-session-redis');
  const a = perCell((cell) => cellOf(ours, cell)?.result.redisCpuUsPerRequest);
  const b = perCell((cell) => cellOf(theirs, cell)?.result.redisCpuUsPerRequest);
  return {
    id: 'redis-server-cpu',
    target: 'redis-server CPU per guarded read, nestjs-connected + RedisStore ≤ connect-redis (Express)',
    figure: a && b ? `${labelled(a, us)} against ${b.map(us).join(', ')}` : 'no figure',
    met: a && b ? a.every((x, i) => x <= b[i]!) : undefined,
  };
}

/** Live-server bytes per connected session, after one request each: ours at most express-session's. */
function liveMemoryTarget(results: Results): TargetCheck {
  const live = results.liveMemory ?? [];
  const of = (id: string) => live.find((m) => m.id === id && m.problems.length === 0)?.bytesPerSession;
  const express = of('express-connected-memory');
  const fastify = of('fastify-connected-memory');
  const theirs = of('express-session-memory');
  const known = express !== undefined && fastify !== undefined && theirs !== undefined;
  const fastifySession = of('fastify-session-memory');
  return {
    id: 'live-memory',
    target: 'live-server bytes per connected session (one request each) ≤ express-session',
    figure: known
      ? `${Math.round(express)} B (Express), ${Math.round(fastify)} B (Fastify) against ${Math.round(theirs)} B` +
        (fastifySession === undefined ? '' : `; @fastify/session ${Math.round(fastifySession)} B`)
      : 'no figure',
    met: known ? express <= theirs && fastify <= theirs : undefined,
  };
}

function socketsTarget(results: Results): TargetCheck {
  const heap = results.sockets?.heap ?? [];
  const plain = heap.find((h) => h.mode === 'plain')?.bytesPerSocket;
  const ours = heap.find((h) => h.mode === 'connected')?.bytesPerSocket;
  const known = plain !== undefined && ours !== undefined && plain > 0;
  return {
    id: 'sockets',
    target: "memory per socket ≤ 1.1× Nest's plain IoAdapter",
    figure: known ? `${two(ours / plain)}× (${(ours / 1024).toFixed(1)} KB against ${(plain / 1024).toFixed(1)} KB)` : 'no figure',
    met: known ? ours / plain <= 1.1 : undefined,
  };
}

function windowTarget(results: Results): TargetCheck {
  const window = results.window;
  const measured = window !== undefined && !('pending' in window) ? window : undefined;
  return {
    id: 'window',
    target: 'near cache invalidation window < 5 ms at p99 (loopback)',
    figure:
      measured === undefined
        ? window === undefined
          ? 'no figure'
          : `pending: ${(window as { pending: string }).pending}`
        : `p99 ${measured.p99.toFixed(2)} ms, p50 ${measured.p50.toFixed(2)} ms over ${measured.writes} writes` +
          (measured.neverSeen > 0 ? `; ${measured.neverSeen} never seen` : ''),
    met: measured === undefined ? undefined : measured.p99 < 5 && measured.neverSeen === 0,
  };
}

/** The issue's targets, in its order. */
export function checkTargets(results: Results): TargetCheck[] {
  return [
    ceilingTarget(results, 'express', 0.9),
    ceilingTarget(results, 'fastify', 0.8),
    nearCacheTarget(results),
    connectRedisTarget(results),
    redisServerTarget(results),
    liveMemoryTarget(results),
    socketsTarget(results),
    windowTarget(results),
  ];
}

export function verdict(check: TargetCheck): string {
  return check.met === undefined ? 'no figure' : check.met ? 'met' : '**missed**';
}
