/**
 * Memory per socket.io socket of a built nestjs-connected (`SessionIoAdapter`, each socket with its own logged-in
 * session on a MemoryStore) beside Nest's plain `IoAdapter`, measured as the bench does (bench/sockets.ts): the
 * server's heapUsed + arrayBuffers after full collections, before and after the sockets open, divided by the
 * sockets. The sessions are logged in before the first figure, so their own memory is not counted; what a
 * handshake adds to a session (a touch of its record) is. Not part of the test suite; docs/ARCHITECTURE.md
 * ("Memory per socket") says what it found.
 *
 *   npx tsc -p tsconfig.build.json --outDir .build/lib
 *   node --expose-gc scripts/profile-socket-memory.mjs --lib .build/lib [options]
 *
 * Options:
 *   --modes <list>     plain (Nest's IoAdapter, a gateway with one handler: the bench's floor), plain2 (the same
 *                      adapter with the connected gateway's two handlers, unguarded), connected (default: all three)
 *   --sockets 2000     sockets held open at once
 *   --rounds 1         measurements of each mode (a fresh server each), alternating modes; the median is printed
 *   --snapshots <dir>  heap snapshots of each server before and after its sockets open (first round), and the
 *                      groups (type and constructor) whose growth per socket exceeds the first mode's most
 *
 * Each server is a child process of this script (`--serve`), run with `--expose-gc` under the same Node binary.
 */
import { fork } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { serve } from './profile-socket-memory/server.mjs';
import { compareSnapshots } from './profile-socket-memory/snapshot.mjs';

const { values: options } = parseArgs({
  options: {
    serve: { type: 'boolean', default: false },
    mode: { type: 'string', default: 'connected' },
    lib: { type: 'string', default: 'dist' },
    modes: { type: 'string', default: 'plain,plain2,connected' },
    sockets: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '1' },
    snapshots: { type: 'string' },
  },
});

if (options.serve) await serve(options.mode, resolve(options.lib));
else await main();

async function main() {
  const { io } = await import('socket.io-client');
  const sockets = Number(options.sockets);
  const modes = options.modes.split(',');
  const figures = new Map(modes.map((mode) => [mode, []]));
  const snapshots = new Map();
  if (options.snapshots !== undefined) mkdirSync(options.snapshots, { recursive: true });
  for (let round = 0; round < Number(options.rounds); round++) {
    for (const mode of modes) {
      const child = await startServer(mode);
      const url = `http://127.0.0.1:${child.port}`;
      const open = [];
      try {
        const heapStart = await child.ask({ type: 'heap' });
        const cookies = mode === 'connected' ? await login(url, sockets) : undefined;
        const snapshotAt = (moment) => resolve(options.snapshots, `${mode}-${moment}.heapsnapshot`);
        const snapshot = options.snapshots !== undefined && round === 0;
        const heapAfterLogins = await child.ask(snapshot ? { type: 'snapshot', file: snapshotAt('before') } : { type: 'heap' });
        await pool(sockets, 50, async (i) => open.push(await openSocket(io, url, cookies?.[i])));
        const heapAfterSockets = await child.ask(snapshot ? { type: 'snapshot', file: snapshotAt('after') } : { type: 'heap' });
        if (snapshot) snapshots.set(mode, [snapshotAt('before'), snapshotAt('after')]);
        const perSocket = (heapAfterSockets - heapAfterLogins) / sockets;
        const perSession = mode === 'connected' ? `  (${((heapAfterLogins - heapStart) / sockets).toFixed(0)} B/session before)` : '';
        console.log(`${mode.padEnd(9)} round ${round + 1}  ${sockets} sockets  ${perSocket.toFixed(0)} B/socket${perSession}`);
        figures.get(mode).push(perSocket);
      } finally {
        for (const socket of open) socket.close();
        child.process.kill();
      }
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const floor = median(figures.get(modes[0]));
  for (const mode of modes) {
    const value = median(figures.get(mode));
    console.log(`median ${mode.padEnd(9)} ${value.toFixed(0)} B/socket  ${(value / floor).toFixed(3)}× ${modes[0]}`);
  }
  const [first, ...others] = [...snapshots.keys()];
  for (const mode of others) compareSnapshots(snapshots.get(first), snapshots.get(mode), sockets, `${mode} - ${first}`);
}

/** A server child of `mode`, listening; `ask` sends it a query over IPC and resolves its answer. */
async function startServer(mode) {
  const child = fork(process.argv[1], ['--serve', '--mode', mode, '--lib', options.lib], {
    execArgv: ['--expose-gc', '--max-old-space-size=4096'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = [];
  child.on('message', (message) => pending.shift()?.(message));
  const ready = await new Promise((resolveReady, reject) => {
    pending.push(resolveReady);
    child.once('exit', (code) => reject(new Error(`server ${mode} exited (${code})`)));
  });
  const ask = (query) =>
    new Promise((resolveAnswer) => {
      pending.push((answer) => resolveAnswer(answer.bytes));
      child.send(query);
    });
  return { process: child, port: ready.port, ask };
}

async function login(url, count) {
  return pool(count, 16, async (i) => {
    const response = await fetch(`${url}/login?user=ws-user-${i}`, { method: 'POST' });
    await response.arrayBuffer();
    const cookie = response.headers.getSetCookie()[0]?.split(';')[0];
    if (response.status !== 200 || cookie === undefined) throw new Error(`POST /login answered ${response.status}`);
    return cookie;
  });
}

function openSocket(io, url, cookie) {
  return new Promise((resolveSocket, reject) => {
    const socket = io(url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: 20_000,
      ...(cookie === undefined ? {} : { extraHeaders: { cookie } }),
    });
    socket.once('connect', () => resolveSocket(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(new Error(`socket refused: ${error.data?.code ?? error.message}`));
    });
  });
}

/** Runs `task(i)` for i < count, `width` at a time; resolves the results in order. */
async function pool(count, width, task) {
  const results = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, worker));
  return results;
}
