// The driver's HTTP side for scripts/profile-guarded-read.mjs: logins, single requests and autocannon load.
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

/**
 * The CPUs this process may use, counted when the script starts: availableParallelism() follows the process's own
 * affinity, so once the driver is pinned to the first CPUs it counts only those, and a server counted then would stay
 * on the driver's core.
 */
const CPUS = availableParallelism();

async function login(port, user) {
  const response = await fetch(`http://127.0.0.1:${port}/login?user=${encodeURIComponent(user)}`, { method: 'POST' });
  if (response.status !== 200) throw new Error(`login: ${response.status}`);
  const cookies = response.headers.getSetCookie().map((line) => line.split(';')[0]);
  await response.arrayBuffer();
  return cookies.join('; ');
}

/** Logs in `count` users, a few at a time. */
export async function loginMany(port, count, prefix) {
  const cookies = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      cookies[i] = await login(port, `${prefix}${i}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return cookies;
}

export async function get(port, path, cookie) {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { headers: cookie ? { cookie } : {} });
  await response.arrayBuffer();
  return response.status;
}

export async function load(port, cookies, seconds, route, connections, method = 'GET') {
  const { default: autocannon } = await import('autocannon');
  const path = `/${route}`;
  const requests = cookies.length === 0 ? [{ method, path }] : cookies.map((cookie) => ({ method, path, headers: { cookie } }));
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: seconds,
    requests,
  });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`load: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return result.requests.total;
}

/**
 * Moves process `pid` and its threads to the last CPU (`server`) or to the others (the driver and its load), as the
 * bench does: a server that shares its core with autocannon loses CPU time and caches to it unevenly. A no-op with
 * `--pin false`, on one CPU, or without taskset.
 */
export function pin(pid, role, enabled) {
  if (!enabled || CPUS < 2) return;
  const list = role === 'server' ? String(CPUS - 1) : `0-${CPUS - 2}`;
  try {
    execFileSync('taskset', ['-a', '-c', '-p', list, String(pid)], { stdio: 'ignore' });
  } catch {
    // No taskset (not Linux): the figures are unpinned, as the printed header says.
  }
}
