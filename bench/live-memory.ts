/**
 * Memory of a running server per connected session: each library's HTTP variant in its own child process
 * (`--expose-gc --no-flush-bytecode`), logged in over HTTP by BENCH_LIVE_SESSIONS users (one session each), then one
 * guarded request per session. The server reports heapUsed + arrayBuffers after gc (support/children.ts `answerQueries`) before the
 * logins, after them and after the requests; the difference over the count is what a session costs the process,
 * whatever part of the library holds it (store, caches, indexes), not only the store's records.
 */
import { VARIANTS, type VariantSpec } from './servers/shared.js';
import { describe } from './support/children.js';
import type { BenchConfig } from './support/config.js';
import { login, pool } from './support/http.js';
import type { LiveMemoryResult } from './support/results.js';
import { startHttpServer, type RunningServer } from './support/servers.js';

const LIVE_VARIANTS = ['express-connected-memory', 'fastify-connected-memory', 'express-session-memory', 'fastify-session-memory'];
/**
 * Logins and reads before the baseline, so that lazily built code and structures are in it, not in the sessions: with
 * 200, V8 was still optimising the login and read paths during the measured logins (bench/README.md).
 */
const WARM_UP_SESSIONS = 2000;
/**
 * `--no-flush-bytecode`: V8 drops the bytecode of functions that have not run for a few full collections, and each
 * reading runs four. The login code is idle during the reads, so its bytecode could go between two readings and take
 * code that no session held off the last one (bench/README.md, section 2).
 */
const SERVER_FLAGS = ['--expose-gc', '--no-flush-bytecode'];

async function heap(server: RunningServer): Promise<number> {
  const reply = await server.child.query('heap');
  if (typeof reply['bytes'] !== 'number') throw new Error(`heap query: ${JSON.stringify(reply)}`);
  return reply['bytes'];
}

/** One guarded read per cookie; resolves how many did not answer 200. */
async function readEach(server: RunningServer, cookies: string[]): Promise<number> {
  const statuses = await pool(cookies.length, 16, async (i) => {
    const response = await fetch(`${server.url}/read`, { headers: { cookie: cookies[i]! } });
    await response.arrayBuffer();
    return response.status;
  });
  return statuses.filter((status) => status !== 200).length;
}

async function measure(spec: VariantSpec, sessions: number): Promise<LiveMemoryResult> {
  const server = await startHttpServer(spec.id, {}, SERVER_FLAGS);
  try {
    const problems: string[] = [];
    const warm = await login(server.url, WARM_UP_SESSIONS, { prefix: 'warm', expectCookie: true });
    await readEach(server, warm);
    const baseline = await heap(server);
    const cookies = await login(server.url, sessions, { prefix: 'live', expectCookie: true });
    const afterLogins = await heap(server);
    const refused = await readEach(server, cookies);
    if (refused > 0) problems.push(`${refused} of ${sessions} guarded reads did not answer 200`);
    const afterRequests = await heap(server);
    return {
      id: spec.id,
      framework: spec.framework,
      label: spec.label,
      sessions,
      baseline,
      afterLogins,
      afterRequests,
      bytesPerSessionAfterLogins: (afterLogins - baseline) / sessions,
      bytesPerSession: (afterRequests - baseline) / sessions,
      problems,
    };
  } finally {
    await server.stop();
  }
}

/** The live-server memory section of a run: one server at a time. */
export async function liveMemorySection(config: BenchConfig, log: (line: string) => void): Promise<LiveMemoryResult[]> {
  const results: LiveMemoryResult[] = [];
  for (const id of LIVE_VARIANTS) {
    const spec = VARIANTS.find((v) => v.id === id)!;
    try {
      const result = await measure(spec, config.liveSessions);
      results.push(result);
      log(
        `live    ${spec.id.padEnd(26)} ${result.sessions} sessions  ${result.bytesPerSessionAfterLogins.toFixed(0).padStart(5)} B/session after login, ` +
          `${result.bytesPerSession.toFixed(0).padStart(5)} B after one request each` +
          (result.problems.length > 0 ? `  PROBLEM ${result.problems.join('; ')}` : ''),
      );
    } catch (error) {
      log(`live    ${spec.id} FAILED: ${describe(error).split('\n')[0]}`);
      throw error;
    }
  }
  return results;
}
