/**
 * WebSockets (socket.io): BENCH_WS_SOCKETS sockets held open by one server process, each with its own logged-in
 * session (`connected`), or without sessions on Nest's plain IoAdapter (`plain`, the floor). Reports the server's
 * memory per socket (its own heapUsed + arrayBuffers after gc, asked through its stdin: socket buffers and parsers
 * keep Buffers, which heapUsed alone leaves out) and messages per second through an
 * unguarded handler and a `@Connected()` one: BENCH_WS_SENDERS sockets each send a message and await its ack, in a
 * loop, for BENCH_WARMUP (thrown away) then BENCH_SECONDS.
 */
import { io, type Socket } from 'socket.io-client';
import { buildPath, describe, startNode, type NodeChild } from './support/children.js';
import type { BenchConfig } from './support/config.js';
import { login, pool } from './support/http.js';
import { quantile } from './support/load.js';
import type { SocketHeapResult, SocketMessagesResult } from './support/results.js';

const ACK_TIMEOUT_MS = 5000;

async function heapOf(child: NodeChild): Promise<number> {
  const reply = await child.query('heap');
  if (typeof reply['bytes'] !== 'number') throw new Error(`heap query: ${JSON.stringify(reply)}`);
  return reply['bytes'];
}

function openSocket(url: string, cookie: string | undefined): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: 20_000,
      ...(cookie === undefined ? {} : { extraHeaders: { cookie } }),
    });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error: Error & { data?: { code?: string } }) => {
      socket.close();
      reject(new Error(`socket refused: ${error.data?.code ?? error.message}`));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `senders` sockets send `event` with a number and await the ack, in a loop; only the measured seconds count. */
async function messageLoad(sockets: Socket[], event: string, config: BenchConfig): Promise<Omit<SocketMessagesResult, 'mode' | 'handler'>> {
  let measuring = false;
  let stop = false;
  let acks = 0;
  let errors = 0;
  const latencies: number[] = [];
  const loop = async (socket: Socket, id: number) => {
    let n = id * 1_000_000;
    while (!stop) {
      n++;
      const started = performance.now();
      try {
        const answer: unknown = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, n);
        if (answer !== n) throw new Error(`ack ${JSON.stringify(answer)} for ${n}`);
        if (measuring) {
          acks++;
          latencies.push(performance.now() - started);
        }
      } catch {
        if (measuring) errors++;
        if (!socket.connected) return;
      }
    }
  };
  const loops = sockets.map((socket, id) => loop(socket, id));
  await sleep(config.warmup * 1000);
  measuring = true;
  const started = performance.now();
  await sleep(config.seconds * 1000);
  measuring = false;
  const elapsed = (performance.now() - started) / 1000;
  stop = true;
  await Promise.all(loops);
  const sorted = Float64Array.from(latencies).sort();
  return {
    senders: sockets.length,
    messagesPerSecond: acks / elapsed,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    errors,
    acks,
  };
}

async function runMode(
  mode: 'plain' | 'connected',
  config: BenchConfig,
  log: (line: string) => void,
): Promise<{ heap: SocketHeapResult; messages: SocketMessagesResult[] }> {
  const child: NodeChild = await startNode(buildPath('servers/socket-server.js'), {
    nodeArgs: ['--expose-gc'],
    env: { BENCH_WS_MODE: mode, NODE_ENV: 'production' },
    label: `socket server ${mode}`,
    server: true,
  });
  const url = `http://127.0.0.1:${Number(child.ready['port'])}`;
  const sockets: Socket[] = [];
  try {
    const heapStart = await heapOf(child);
    const cookies = mode === 'connected' ? await login(url, config.sockets, { prefix: 'ws-user', expectCookie: true }) : undefined;
    const heapAfterLogins = await heapOf(child);
    await pool(config.sockets, 50, async (i) => {
      sockets.push(await openSocket(url, cookies?.[i]));
    });
    const heapAfterSockets = await heapOf(child);
    const heap: SocketHeapResult = {
      mode,
      sockets: config.sockets,
      heapStart,
      heapAfterLogins,
      heapAfterSockets,
      bytesPerSocket: (heapAfterSockets - heapAfterLogins) / config.sockets,
    };
    if (mode === 'connected') heap.bytesPerSession = (heapAfterLogins - heapStart) / config.sockets;
    log(
      `sockets ${mode.padEnd(9)} ${config.sockets} sockets  ${heap.bytesPerSocket.toFixed(0)} B/socket` +
        (heap.bytesPerSession === undefined ? '' : `  (${heap.bytesPerSession.toFixed(0)} B/session before the sockets)`),
    );
    const messages: SocketMessagesResult[] = [];
    const senders = sockets.slice(0, config.socketSenders);
    for (const handler of mode === 'connected' ? ['open', 'guarded'] : ['open']) {
      const result = { mode, handler, ...(await messageLoad(senders, handler, config)) };
      messages.push(result);
      log(
        `sockets ${mode.padEnd(9)} '${handler}' ${result.messagesPerSecond.toFixed(0).padStart(7)} msg/s  ` +
          `p50 ${result.p50.toFixed(2)} ms  p99 ${result.p99.toFixed(2)} ms  errors ${result.errors}`,
      );
    }
    return { heap, messages };
  } finally {
    for (const socket of sockets) socket.close();
    await child.stop();
  }
}

/** The sockets section of a run: the plain floor, then nestjs-connected. */
export async function socketSection(
  config: BenchConfig,
  log: (line: string) => void,
): Promise<{ heap: SocketHeapResult[]; messages: SocketMessagesResult[]; problems: string[] }> {
  const heap: SocketHeapResult[] = [];
  const messages: SocketMessagesResult[] = [];
  const problems: string[] = [];
  for (const mode of ['plain', 'connected'] as const) {
    try {
      const result = await runMode(mode, config, log);
      heap.push(result.heap);
      messages.push(...result.messages);
      for (const m of result.messages)
        if (m.errors > 0) problems.push(`${mode} '${m.handler}': ${m.errors} messages without a correct ack`);
    } catch (error) {
      const message = describe(error);
      problems.push(`${mode}: ${message}`);
      log(`sockets ${mode} FAILED: ${message.split('\n')[0]}`);
    }
  }
  return { heap, messages, problems };
}
