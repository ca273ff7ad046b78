import type { INestApplication } from '@nestjs/common';
import { io, type Socket as IoSocket } from 'socket.io-client';
import WebSocket from 'ws';
import { SessionIoAdapter, type SessionSocketOptions } from '../../lib/transports/socket-io/session-io.adapter.js';
import { SessionWsAdapter } from '../../lib/transports/ws/session-ws.adapter.js';

export type SocketKind = 'socket.io' | 'ws';
export const SOCKET_KINDS: SocketKind[] = ['socket.io', 'ws'];

/** `configure` for startApp: installs the session adapter of that kind. */
export function sessionSockets(kind: SocketKind, options?: SessionSocketOptions): (app: INestApplication) => void {
  return (app) => app.useWebSocketAdapter(kind === 'socket.io' ? new SessionIoAdapter(app, options) : new SessionWsAdapter(app, options));
}

/** A message the server sent: its event name and data. */
export interface Received {
  event: string;
  data: any;
}

/** How the server ended the socket: socket.io's `session_end` reason, or ws close code and reason. */
export interface Ended {
  reason: string | undefined;
  code?: number;
}

/** A handshake the server refused. */
export class Refused extends Error {
  constructor(
    /** socket.io `connect_error` data.code, or the ws upgrade's `x-session-refusal` header. */
    readonly code: string | undefined,
    /** ws only: the HTTP status of the upgrade answer. */
    readonly status?: number,
  ) {
    super(`handshake refused: ${code ?? 'unknown'}${status === undefined ? '' : ` (${status})`}`);
  }
}

/** One real client socket, the same surface on both kinds. */
export interface TestSocket {
  readonly kind: SocketKind;
  readonly received: Received[];
  /** Sends `event` and resolves the first later message named `event` or `exception`. */
  request(event: string, data?: unknown, timeoutMs?: number): Promise<Received>;
  send(event: string, data?: unknown): void;
  /** Resolves the next message named `event` (already received ones count if not yet taken). */
  next(event: string, timeoutMs?: number): Promise<Received>;
  /** Resolves when the socket is closed, with what the server said. */
  readonly ended: Promise<Ended>;
  readonly isOpen: boolean;
  close(): Promise<void>;
}

export interface OpenOptions {
  cookie?: string;
  origin?: string;
  process?: string;
  path?: string;
}

/** Opens a socket to the app at `url` (http://host:port); rejects with {@link Refused} when the handshake is refused. */
export function openSocket(kind: SocketKind, url: string, options: OpenOptions = {}): Promise<TestSocket> {
  return kind === 'socket.io' ? openIo(url, options) : openWs(url, options);
}

class Inbox {
  readonly received: Received[] = [];
  private readonly waiters: Array<{ events: string[]; resolve: (r: Received) => void; from: number }> = [];
  private taken = new Set<number>();

  push(message: Received): void {
    this.received.push(message);
    const index = this.received.length - 1;
    for (const waiter of [...this.waiters]) {
      if (waiter.events.includes(message.event) && index >= waiter.from && !this.taken.has(index)) {
        this.taken.add(index);
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(message);
        return;
      }
    }
  }

  wait(events: string[], from: number, timeoutMs: number): Promise<Received> {
    for (let i = from; i < this.received.length; i++) {
      if (!this.taken.has(i) && events.includes(this.received[i]!.event)) {
        this.taken.add(i);
        return Promise.resolve(this.received[i]!);
      }
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        events,
        from,
        resolve: (r: Received) => {
          clearTimeout(timer);
          resolve(r);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no ${events.join('/')} message within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }
}

function openIo(url: string, options: OpenOptions): Promise<TestSocket> {
  const headers: Record<string, string> = {};
  if (options.cookie) headers.cookie = options.cookie;
  if (options.origin) headers.origin = options.origin;
  const socket: IoSocket = io(url + (options.path ?? ''), {
    transports: ['websocket'],
    extraHeaders: headers,
    reconnection: false,
    forceNew: true,
    ...(options.process ? { auth: { process: options.process } } : {}),
  });
  const inbox = new Inbox();
  let endReason: string | undefined;
  socket.onAny((event: string, data: unknown) => {
    if (event === 'session_end') endReason = (data as { reason?: string }).reason;
    inbox.push({ event, data });
  });
  const ended = new Promise<Ended>((resolve) => socket.on('disconnect', () => resolve({ reason: endReason })));
  return new Promise((resolve, reject) => {
    socket.once('connect_error', (error: Error & { data?: { code?: string } }) => {
      socket.close();
      reject(new Refused(error.data?.code));
    });
    socket.once('connect', () => {
      resolve({
        kind: 'socket.io',
        received: inbox.received,
        request(event, data, timeoutMs = 3000) {
          const from = inbox.received.length;
          socket.emit(event, data);
          return inbox.wait([event, 'exception'], from, timeoutMs);
        },
        send(event, data) {
          socket.emit(event, data);
        },
        next: (event, timeoutMs = 3000) => inbox.wait([event], 0, timeoutMs),
        ended,
        get isOpen() {
          return socket.connected;
        },
        async close() {
          if (socket.connected) {
            socket.close();
          }
        },
      });
    });
  });
}

function openWs(url: string, options: OpenOptions): Promise<TestSocket> {
  const headers: Record<string, string> = {};
  if (options.cookie) headers.cookie = options.cookie;
  const query = options.process ? `?process=${encodeURIComponent(options.process)}` : '';
  const socket = new WebSocket(url.replace(/^http/, 'ws') + (options.path ?? '/') + query, {
    headers,
    ...(options.origin ? { origin: options.origin } : {}),
  });
  const inbox = new Inbox();
  const ended = new Promise<Ended>((resolve) =>
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() || undefined })),
  );
  socket.on('message', (raw) => {
    const text = textOf(raw);
    try {
      const parsed = JSON.parse(text) as { event?: string; data?: unknown };
      inbox.push({ event: String(parsed.event), data: parsed.data });
    } catch {
      inbox.push({ event: 'raw', data: text });
    }
  });
  return new Promise((resolve, reject) => {
    socket.once('unexpected-response', (_request, response) => {
      const code = response.headers['x-session-refusal'];
      reject(new Refused(typeof code === 'string' ? code : undefined, response.statusCode));
      socket.terminate();
    });
    socket.once('error', (error) => reject(error));
    socket.once('open', () => {
      resolve({
        kind: 'ws',
        received: inbox.received,
        request(event, data, timeoutMs = 3000) {
          const from = inbox.received.length;
          socket.send(JSON.stringify({ event, data }));
          return inbox.wait([event, 'exception'], from, timeoutMs);
        },
        send(event, data) {
          socket.send(JSON.stringify({ event, data }));
        },
        next: (event, timeoutMs = 3000) => inbox.wait([event], 0, timeoutMs),
        ended,
        get isOpen() {
          return socket.readyState === WebSocket.OPEN;
        },
        async close() {
          if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) {
            const closed = ended;
            socket.close();
            await closed;
          }
        },
      });
    });
  });
}

/** A ws message as text, whichever of its three binary shapes it came in. */
function textOf(raw: Buffer | ArrayBuffer | Buffer[]): string {
  if (Array.isArray(raw)) return Buffer.concat(raw).toString('utf8');
  return Buffer.from(raw instanceof ArrayBuffer ? new Uint8Array(raw) : raw).toString('utf8');
}
