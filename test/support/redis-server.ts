import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real redis-server for the Redis tests, on a free loopback port and a temporary directory, stopped by its pid.
 * No test may leave one running: `stop()` in afterAll, a process 'exit' hook for a run that ends early, and a
 * watchdog process per server that kills it when this process dies without running its hooks (a Jest worker killed
 * with SIGKILL).
 */
export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** The pid of the running server (a new one after `restart()`). */
  readonly pid: number;
  readonly dir: string;
  /** SIGTERM (after a SIGCONT, should it be paused), then SIGKILL if it is still there; removes the directory. */
  stop(): Promise<void>;
  /** SIGSTOP: the server keeps its connections but answers nothing, as a hung server does. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** SIGKILL, as a crash: nothing is saved. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory; it loads dump.rdb if a `SAVE` wrote one. */
  restart(): Promise<void>;
}

export interface RedisServerOptions {
  /** More redis-server arguments, e.g. `['--cluster-enabled', 'yes']`. */
  args?: string[];
}

const READY_DEADLINE_MS = 10_000;
const STOP_DEADLINE_MS = 5_000;

/** Every server child and watchdog still alive, for the exit hook. */
const live = new Set<ChildProcess>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const child of live) {
      try {
        // SIGKILL also ends a stopped (SIGSTOP) process.
        child.kill('SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });
}

function requireRedisServer(): void {
  const found = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  if (found.error !== undefined || found.status !== 0) {
    throw new Error(
      'The Redis tests need redis-server 7 on the PATH: run `node scripts/ensure-redis.mjs` ' + '(or `apt-get install -y redis-server`).',
    );
  }
}

/** A port nobody listens on now (the kernel's choice for port 0); another process could still take it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** One PING over a raw socket: true when the server answered +PONG within `ms`. */
function pingOnce(port: number, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let reply = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), ms);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.on('error', () => done(false));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves when `child` has exited (at once if it already has). */
function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function withDeadline(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

interface Running {
  server: ChildProcess;
  watchdog: ChildProcess;
  output: string[];
}

/** Spawns redis-server and its watchdog; resolves once it answers PING, rejects (and cleans up) if it never does. */
async function launch(port: number, dir: string, args: string[]): Promise<Running> {
  hookExit();
  const server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  live.add(server);
  const output: string[] = [];
  let failure: string | undefined;
  server.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  server.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  server.once('error', (error) => (failure ??= error.message));
  server.once('exit', (code, signal) => {
    live.delete(server);
    failure ??= `exited (${code ?? signal})`;
  });
  if (server.pid === undefined) {
    const error = await new Promise<Error>((resolve) => server.once('error', resolve));
    throw new Error(`redis-server could not be started: ${error.message}`);
  }
  // The watchdog waits on a pipe from this process; when this process dies by any means the pipe closes and the
  // watchdog kills the server. Stopping the server normally kills the watchdog first. (The pid is checked: `kill 0`
  // would signal the whole process group.)
  const watchdog = spawn('sh', ['-c', 'read _ignored; [ "$1" -gt 1 ] && kill -9 "$1" 2>/dev/null', 'redis-watchdog', String(server.pid)], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  live.add(watchdog);
  watchdog.once('exit', () => live.delete(watchdog));
  // Neither the children nor their pipes keep Node alive: a test that forgot stop() must not hang Jest.
  for (const child of [server, watchdog]) {
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) {
      (stream as unknown as { unref?: () => void } | null)?.unref?.();
    }
  }

  const deadline = Date.now() + READY_DEADLINE_MS;
  for (;;) {
    if (failure === undefined && (await pingOnce(port, 500))) return { server, watchdog, output };
    if (failure !== undefined || Date.now() > deadline) {
      watchdog.kill('SIGKILL');
      if (server.pid !== undefined && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
      await exited(server);
      const why = failure ?? `no answer to PING within ${READY_DEADLINE_MS} ms`;
      throw new Error(`redis-server did not start on port ${port}: ${why}\n${output.join('').slice(-2000)}`);
    }
    await sleep(20);
  }
}

/** Starts a redis-server on a free loopback port, in a fresh temporary directory. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  requireRedisServer();
  const args = options.args ?? [];
  const dir = mkdtempSync(join(tmpdir(), 'nestjs-connected-redis-'));
  let port = 0;
  let running: Running | undefined;
  // The free port may be taken between the probe and redis-server's bind: try a few.
  for (let attempt = 0; running === undefined; attempt++) {
    port = await freePort();
    try {
      running = await launch(port, dir, args);
    } catch (error) {
      if (attempt >= 2) {
        rmSync(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }
  let current: Running = running;

  const signal = (name: NodeJS.Signals) => {
    const pid = current.server.pid;
    if (pid !== undefined && current.server.exitCode === null && current.server.signalCode === null) process.kill(pid, name);
  };

  const end = async (how: 'term' | 'kill') => {
    const { server, watchdog } = current;
    watchdog.kill('SIGKILL');
    if (server.exitCode === null && server.signalCode === null && server.pid !== undefined) {
      if (how === 'term') {
        process.kill(server.pid, 'SIGCONT');
        process.kill(server.pid, 'SIGTERM');
        if (await withDeadline(exited(server), STOP_DEADLINE_MS)) return;
      }
      process.kill(server.pid, 'SIGKILL');
    }
    await exited(server);
  };

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return current.server.pid ?? 0;
    },
    dir,
    async stop() {
      await end('term');
      rmSync(dir, { recursive: true, force: true });
    },
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    kill: () => end('kill'),
    async restart() {
      await end('term');
      current = await launch(port, dir, args);
    },
  };
}

/** A Redis Cluster of `size` masters (no replicas) on loopback, slots split evenly. */
export interface RedisCluster {
  readonly nodes: RedisServer[];
  stop(): Promise<void>;
}

/** One command over a raw socket (inline protocol), giving the raw reply text. For setting a cluster up only. */
function command(port: number, line: string, ms = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let reply = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply to ${line.split(' ')[0]} from port ${port}`));
    }, ms);
    socket.on('connect', () => socket.write(`${line}\r\n`));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      // Simple replies end with the first CRLF; a bulk reply ($len) once its length is in.
      const bulk = /^\$(\d+)\r\n/.exec(reply);
      if ((bulk && reply.length >= bulk[0].length + Number(bulk[1]) + 2) || (!reply.startsWith('$') && reply.includes('\r\n'))) {
        clearTimeout(timer);
        socket.destroy();
        if (reply.startsWith('-')) reject(new Error(reply.trim()));
        else resolve(reply);
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * Starts `size` cluster-enabled servers, assigns the 16384 slots with CLUSTER ADDSLOTSRANGE, joins them with
 * CLUSTER MEET and waits until every node reports `cluster_state:ok`. Stops everything it started on failure.
 */
export async function startRedisCluster(size = 3, deadlineMs = 15_000): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  try {
    const busPorts: number[] = [];
    // The cluster bus needs a port too: by default port + 10000, which may be taken or out of range.
    for (let i = 0; i < size; i++) busPorts.push(await freePort());
    // In parallel: a master turns its state to ok only 2 s after it started, whatever else is ready.
    const started = await Promise.allSettled(
      busPorts.map((busPort) =>
        startRedisServer({
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-port',
            String(busPort),
            '--cluster-node-timeout',
            '5000',
          ],
        }),
      ),
    );
    for (const result of started) if (result.status === 'fulfilled') nodes.push(result.value);
    const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    const per = Math.ceil(16384 / size);
    for (const [i, node] of nodes.entries()) {
      const first = i * per;
      const last = Math.min(16383, first + per - 1);
      await command(node.port, `CLUSTER ADDSLOTSRANGE ${first} ${last}`);
    }
    // Every pair meets at once: left to gossip, the last node takes seconds to be known to all. The bus port is
    // not port + 10000 here: CLUSTER MEET ip port bus-port names it.
    for (const [i, node] of nodes.entries()) {
      for (const [j, other] of nodes.entries()) {
        if (i !== j) await command(node.port, `CLUSTER MEET 127.0.0.1 ${other.port} ${busPorts[j]}`);
      }
    }
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const states = await Promise.all(nodes.map((node) => command(node.port, 'CLUSTER INFO')));
      if (states.every((state) => state.includes('cluster_state:ok') && state.includes(`cluster_known_nodes:${size}`))) break;
      if (Date.now() > deadline) throw new Error(`the Redis Cluster did not reach cluster_state:ok within ${deadlineMs} ms`);
      await sleep(50);
    }
    return { nodes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
