// A redis-server of its own for scripts/profile-guarded-read.mjs --store redis: a free loopback port, no
// persistence, stopped by its pid when the script ends (and by its own watchdog when the script dies).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

function ping(port) {
  return new Promise((done) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const finish = (ok) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(500, () => finish(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => finish(chunk.toString('latin1').startsWith('+PONG')));
    socket.on('error', () => finish(false));
  });
}

/** redis-server's CPU so far, in µs (utime + stime of /proc/<pid>/stat, at 100 clock ticks a second). */
function cpuOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** Starts redis-server; resolves `{ url, cpu(), stop() }` once it answers PING. */
export async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'profile-redis-'));
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  });
  // The watchdog holds a pipe from this process: when it closes (this process died), the server is killed by pid.
  const watchdog = spawn('sh', ['-c', 'read _ignored; [ "$1" -gt 1 ] && kill -9 "$1" 2>/dev/null', 'redis-watchdog', String(server.pid)], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  const stop = async () => {
    watchdog.kill();
    if (server.exitCode === null) {
      const exited = new Promise((done) => server.once('exit', done));
      server.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (server.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not start on port ${port}`);
    }
    await new Promise((done) => setTimeout(done, 20));
  }
  return { url: `redis://127.0.0.1:${port}`, cpu: () => cpuOf(server.pid), stop };
}
