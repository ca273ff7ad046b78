import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopChild, track } from './children.js';

/** One redis-server for the whole run, on a free loopback port, without persistence; stopped by its pid. */
export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly version: string;
  /** FLUSHALL, between variants. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

/** The redis-server version, or undefined when there is none on the PATH. */
export function redisServerVersion(): string | undefined {
  const found = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (found.error !== undefined || found.status !== 0) return undefined;
  return /v=(\S+)/.exec(found.stdout)?.[1] ?? found.stdout.trim();
}

/** A port nobody listens on now (the kernel's pick for port 0). */
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

/** One inline command over a raw socket; resolves the first reply line. */
export function redisCommand(port: number, line: string, ms = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let reply = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis: no reply to ${line} within ${ms} ms`));
    }, ms);
    socket.on('connect', () => socket.write(`${line}\r\n`));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) {
        clearTimeout(timer);
        socket.destroy();
        if (reply.startsWith('-')) reject(new Error(`redis: ${reply.trim()}`));
        else resolve(reply.split('\r\n')[0]!);
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function launch(port: number, dir: string): Promise<{ server: ChildProcess; watchdog: ChildProcess }> {
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(server);
  const output: string[] = [];
  let failure: string | undefined;
  server.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  server.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  server.once('error', (error) => (failure ??= error.message));
  server.once('exit', (code, signal) => (failure ??= `exited (${code ?? signal})`));
  // The watchdog reads a pipe from this process: when this process dies, even by SIGKILL, the pipe closes and the
  // watchdog kills the server by its pid. A normal stop kills the watchdog first.
  // (Never `kill -9 0`, which would be the whole process group: no pid, no watchdog; the shell checks it again.)
  if (server.pid === undefined) throw new Error(`redis-server did not start: ${failure ?? 'no pid'}`);
  const watchdog = spawn('sh', ['-c', 'read _ignored; [ "$1" -gt 1 ] && kill -9 "$1" 2>/dev/null', 'redis-watchdog', String(server.pid)], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  track(watchdog);
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (failure === undefined) {
      const pong = await redisCommand(port, 'PING', 500).catch(() => '');
      if (pong === '+PONG') return { server, watchdog };
    }
    if (failure !== undefined || Date.now() > deadline) {
      await stopChild(watchdog, 100);
      await stopChild(server, 1000);
      throw new Error(`redis-server did not start on port ${port}: ${failure ?? 'no PONG within 10 s'}\n${output.join('').slice(-1500)}`);
    }
    await sleep(20);
  }
}

/** Starts redis-server (a few ports are tried: another process may take the free one first). */
export async function startRedis(): Promise<RedisServer> {
  const version = redisServerVersion();
  if (version === undefined) throw new Error('redis-server is not on the PATH');
  const dir = mkdtempSync(join(tmpdir(), 'nestjs-connected-bench-redis-'));
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    try {
      const { server, watchdog } = await launch(port, dir);
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        pid: server.pid ?? 0,
        version,
        flush: async () => {
          await redisCommand(port, 'FLUSHALL', 10_000);
        },
        stop: async () => {
          await stopChild(watchdog, 100);
          await stopChild(server, 5000);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    } catch (error) {
      if (attempt >= 2) {
        rmSync(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }
}
