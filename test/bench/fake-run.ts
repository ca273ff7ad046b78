/** Results of a made-up run, as bench/http.ts would write them, for the specs of what reads them. */
import type { CellName, Results, VariantResult } from '../../bench/support/results.js';

/** A variant with its two read cells: server CPU µs per request, optional redis-server µs, req/s. */
export function variant(id: string, cpu: [number, number], redis?: [number, number], rate = 1000): VariantResult {
  const cells = (['read-1', 'read-many'] as CellName[]).map((name, i) => ({
    name,
    method: 'GET' as const,
    path: '/read',
    sessions: i === 0 ? 1 : 1000,
    result: {
      requestsPerSecond: rate,
      p50: 1,
      p99: 2,
      responses: 1000,
      non2xx: 0,
      errors: 0,
      timeouts: 0,
      statuses: { '200': 1000 },
      seconds: 8,
      serverCpuUsPerRequest: cpu[i]!,
      ...(redis === undefined ? {} : { redisCpuUsPerRequest: redis[i]! }),
    },
  }));
  return { id, framework: id.startsWith('express') ? 'express' : 'fastify', label: id, status: 'ok', problems: [], cells };
}

export function results(
  variants: VariantResult[],
  extra: Partial<Results> = {},
  http: Partial<NonNullable<Results['http']>> = {},
): Results {
  // The ratios by CPU, as http.ts adds them.
  for (const v of variants) {
    const ceiling = variants.find((c) => c.framework === v.framework && c.id.endsWith('-ceiling'))!;
    v.cells.forEach((cell, i) => (cell.cpuRatio = ceiling.cells[i]!.result.serverCpuUsPerRequest! / cell.result.serverCpuUsPerRequest!));
  }
  return {
    run: { date: '', command: '', env: {}, machine: { cpu: '', cores: 2, ramBytes: 0, os: '', node: 'v24.0.0' }, versions: {} },
    config: {},
    failures: [],
    http: { connections: 10, warmupSeconds: 3, seconds: 8, sessions: 1000, variants, ...http },
    ...extra,
  };
}
