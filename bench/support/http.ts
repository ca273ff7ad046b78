import { randomBytes } from 'node:crypto';

/** The `name=value` of the first Set-Cookie of a response, or undefined. */
function firstCookie(response: Response): string | undefined {
  const header = response.headers.getSetCookie()[0];
  return header?.split(';')[0];
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` at a time; resolves results in order. */
export async function pool<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

/**
 * Logs in `count` times over HTTP (`POST /login?user=<prefix>-<i>`, each login its own user: nestjs-connected's
 * default `maxSessionsPerUser` is 50) and resolves the session cookies. A variant without sessions (the ceiling)
 * sets none: it gets made-up cookies of the same size, so that every variant receives the same request bytes.
 */
export async function login(baseUrl: string, count: number, options: { prefix?: string; expectCookie: boolean }): Promise<string[]> {
  const prefix = options.prefix ?? 'bench-user';
  return pool(count, 16, async (i) => {
    const response = await fetch(`${baseUrl}/login?user=${prefix}-${i}`, { method: 'POST' });
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`POST /login answered ${response.status}`);
    const cookie = firstCookie(response);
    if (cookie === undefined && options.expectCookie) throw new Error('POST /login set no cookie');
    return cookie ?? `sid=${randomBytes(64).toString('base64url')}`;
  });
}

export interface Probe {
  status: number;
  body: string;
}

export async function probe(url: string, init: RequestInit = {}): Promise<Probe> {
  const response = await fetch(url, init);
  return { status: response.status, body: await response.text() };
}

/**
 * Checks a variant before load: `/read` without a cookie is refused with 401 (session variants), `/read` and
 * `/write` with a cookie answer 200 with a counter. Resolves the problems found (empty when all is well).
 */
export async function checkAnswers(baseUrl: string, cookie: string, guarded: boolean): Promise<string[]> {
  const problems: string[] = [];
  const anonymous = await probe(`${baseUrl}/read`);
  if (guarded && anonymous.status !== 401) problems.push(`GET /read without a session answered ${anonymous.status}, not 401`);
  const read = await probe(`${baseUrl}/read`, { headers: { cookie } });
  if (read.status !== 200 || !/"counter":\d+/.test(read.body))
    problems.push(`GET /read answered ${read.status} ${read.body.slice(0, 100)}`);
  const write = await probe(`${baseUrl}/write`, { method: 'POST', headers: { cookie } });
  if (write.status !== 200 || !/"counter":\d+/.test(write.body))
    problems.push(`POST /write answered ${write.status} ${write.body.slice(0, 100)}`);
  if (guarded && problems.length === 0) {
    const again = await probe(`${baseUrl}/read`, { headers: { cookie } });
    const before = /"counter":(\d+)/.exec(read.body)?.[1];
    const after = /"counter":(\d+)/.exec(again.body)?.[1];
    if (Number(after) !== Number(before) + 1) problems.push(`POST /write did not persist: counter ${before} then ${after}`);
  }
  return problems;
}
