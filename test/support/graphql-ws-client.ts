import { createClient, type Client, type FormattedExecutionResult } from 'graphql-ws';

/** One result an operation's sink received. */
export type Result = FormattedExecutionResult<Record<string, unknown>, unknown>;
import WebSocket from 'ws';

/** The graphql-ws subprotocol (GRAPHQL_TRANSPORT_WS_PROTOCOL). */
export const GRAPHQL_WS_PROTOCOL = 'graphql-transport-ws';

/** How a connection ended: the close code and reason the client saw, and when (performance.now()). */
export interface Closed {
  code: number;
  reason: string;
  at: number;
}

export interface GqlOpenOptions {
  /** The Cookie header of the upgrade request. */
  cookie?: string;
  /** The Origin header of the upgrade request (none when absent: a non-browser client). */
  origin?: string;
  /** Any other header of the upgrade request. */
  headers?: Record<string, string>;
  /** The `connection_init` payload. */
  connectionParams?: Record<string, unknown>;
}

/** The headers of an upgrade request, from the options. */
function headersOf(options: GqlOpenOptions): Record<string, string> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.cookie !== undefined) headers['cookie'] = options.cookie;
  if (options.origin !== undefined) headers['origin'] = options.origin;
  return headers;
}

/** A `ws` WebSocket class whose upgrade requests carry `headers` (graphql-ws constructs it with url and protocol). */
function webSocketWith(headers: Record<string, string>): unknown {
  return class HeaderedWebSocket extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols, { headers });
    }
  };
}

/** A close event as the ws package hands it to `onclose`, read by shape. */
function closedOf(event: unknown): Closed {
  const { code, reason } = (event ?? {}) as { code?: unknown; reason?: unknown };
  return {
    code: typeof code === 'number' ? code : -1,
    reason: typeof reason === 'string' ? reason : String(reason),
    at: performance.now(),
  };
}

/** Rejects with `what` after `ms`, unless `promise` settles first. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** How a subscription ended on the client: `complete`, or `error` with what the sink got (GraphQL errors or a close event). */
export type SubscriptionEnd = { kind: 'complete' } | { kind: 'error'; error: unknown };

/** One operation on a {@link GqlConnection}: what its sink received. */
export class TestSubscription {
  readonly results: Result[] = [];
  private taken = 0;
  private waiters: Array<() => void> = [];
  private endState: SubscriptionEnd | undefined;
  readonly ended: Promise<SubscriptionEnd>;
  private finish!: (end: SubscriptionEnd) => void;
  readonly unsubscribe: () => void;

  constructor(client: Client, query: string, variables?: Record<string, unknown>) {
    this.ended = new Promise((resolve) => (this.finish = resolve));
    this.unsubscribe = client.subscribe(
      { query, ...(variables === undefined ? {} : { variables }) },
      {
        next: (result) => {
          this.results.push(result);
          this.wake();
        },
        error: (error: unknown) => this.endWith({ kind: 'error', error }),
        complete: () => this.endWith({ kind: 'complete' }),
      },
    );
  }

  /** How the operation ended; undefined while it runs. */
  get outcome(): SubscriptionEnd | undefined {
    return this.endState;
  }

  private endWith(end: SubscriptionEnd): void {
    if (this.endState !== undefined) return;
    this.endState = end;
    this.finish(end);
    this.wake();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** The next result not taken yet; fails when the operation ends first, or after `timeoutMs` (a generous bound). */
  async next(timeoutMs = 5000): Promise<Result> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.taken < this.results.length) return this.results[this.taken++]!;
      if (this.endState !== undefined) {
        throw new Error(`the operation ended (${JSON.stringify(describeEnd(this.endState))}) with no further result`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no result within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The results not taken by `next()` yet (taking them). */
  rest(): Result[] {
    const rest = this.results.slice(this.taken);
    this.taken = this.results.length;
    return rest;
  }

  /** The end of the operation, within a generous bound. */
  endedWithin(ms = 5000): Promise<SubscriptionEnd> {
    return within(this.ended, ms, 'the end of the operation');
  }
}

/** An end as plain data (a close event has getters only), for messages and `toEqual`. */
export function describeEnd(end: SubscriptionEnd): unknown {
  if (end.kind === 'complete') return end;
  const { error } = end;
  if (Array.isArray(error)) return { kind: 'error', errors: error as unknown[] };
  if (error !== null && typeof error === 'object' && 'code' in error) {
    const closed = closedOf(error);
    return { kind: 'error', close: { code: closed.code, reason: closed.reason } };
  }
  return { kind: 'error', error: error instanceof Error ? error.message : String(error) };
}

/**
 * One graphql-ws connection (the graphql-ws client over the ws package, not lazy, no retries): `acked` once the
 * server sent `connection_ack`, `closed` with the close code and reason the server gave.
 */
export class GqlConnection {
  readonly client: Client;
  /** Set when the server acknowledged the connection (graphql-ws `connected`). */
  ackedAt: number | undefined;
  /** Set once the socket closed. */
  close: Closed | undefined;
  /** Resolves when the socket closed. */
  readonly closed: Promise<Closed>;
  /** Resolves with 'acked' on `connection_ack`, or with the close when the socket closed before one. */
  readonly settled: Promise<'acked' | Closed>;
  /** What the client reported outside an operation (the failure of the non-lazy connection, socket errors). */
  readonly errors: unknown[] = [];
  private readonly subscriptions: TestSubscription[] = [];

  constructor(url: string, options: GqlOpenOptions = {}) {
    let onClosed!: (closed: Closed) => void;
    let onSettled!: (value: 'acked' | Closed) => void;
    this.closed = new Promise((resolve) => (onClosed = resolve));
    this.settled = new Promise((resolve) => (onSettled = resolve));
    this.client = createClient({
      url,
      webSocketImpl: webSocketWith(headersOf(options)),
      lazy: false,
      retryAttempts: 0,
      ...(options.connectionParams === undefined ? {} : { connectionParams: options.connectionParams }),
      onNonLazyError: (error) => this.errors.push(error),
      on: {
        connected: () => {
          this.ackedAt = performance.now();
          onSettled('acked');
        },
        closed: (event) => {
          // Only the first close counts: graphql-ws would open a new socket for an operation started afterwards.
          if (this.close !== undefined) return;
          this.close = closedOf(event);
          onClosed(this.close);
          onSettled(this.close);
        },
        error: (error) => this.errors.push(error),
      },
    });
  }

  get isOpen(): boolean {
    return this.ackedAt !== undefined && this.close === undefined;
  }

  /** Starts an operation (a subscription, usually) on this connection. */
  subscribe(query: string, variables?: Record<string, unknown>): TestSubscription {
    const subscription = new TestSubscription(this.client, query, variables);
    this.subscriptions.push(subscription);
    return subscription;
  }

  /** The close, within a generous bound (fails the test when the socket is still open then). */
  closedWithin(ms = 5000): Promise<Closed> {
    return within(this.closed, ms, 'the close of the graphql-ws connection');
  }

  /** Ends every operation and the socket, and waits for the close (when the socket was open). */
  async dispose(): Promise<void> {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    await this.client.dispose();
    if (this.ackedAt !== undefined || this.close !== undefined) await within(this.closed, 5000, 'the client-side close');
  }
}

/**
 * A graphql-ws socket driven by hand (the ws package with the graphql-transport-ws subprotocol), for what the
 * graphql-ws client never sends: malformed `connection_init` payloads, operations before `connection_init`.
 */
export class RawGqlSocket {
  readonly socket: WebSocket;
  /** Every text message the server sent. */
  readonly messages: string[] = [];
  /** Resolves when the upgrade was accepted; rejects when it was not. */
  readonly opened: Promise<void>;
  readonly closed: Promise<Closed>;

  constructor(url: string, options: GqlOpenOptions = {}) {
    this.socket = new WebSocket(url, GRAPHQL_WS_PROTOCOL, { headers: headersOf(options) });
    this.socket.on('message', (data: WebSocket.RawData) => this.messages.push(textOf(data)));
    this.closed = new Promise((resolve) =>
      this.socket.on('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString('utf8'), at: performance.now() })),
    );
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', () => resolve());
      this.socket.once('error', reject);
    });
    // A refused upgrade also ends in 'close': nothing is left unhandled.
    this.opened.catch(() => undefined);
  }

  send(text: string): void {
    this.socket.send(text);
  }

  /** The messages parsed as JSON (the server only ever sends JSON). */
  parsed(): Array<{ type: string; [field: string]: unknown }> {
    return this.messages.map((text) => JSON.parse(text) as { type: string });
  }

  closedWithin(ms = 5000): Promise<Closed> {
    return within(this.closed, ms, 'the close of the raw graphql-ws socket');
  }

  async dispose(): Promise<void> {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) this.socket.terminate();
    await within(this.closed, 5000, 'the close of the raw socket');
  }
}

function textOf(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data).toString('utf8');
}

/** Connections a test opened, all disposed (and their closes awaited) by `disposeAll()` in afterEach. */
export class GqlPool {
  private readonly open: Array<GqlConnection | RawGqlSocket> = [];

  connect(url: string, options?: GqlOpenOptions): GqlConnection {
    const connection = new GqlConnection(url, options);
    this.open.push(connection);
    return connection;
  }

  raw(url: string, options?: GqlOpenOptions): RawGqlSocket {
    const socket = new RawGqlSocket(url, options);
    this.open.push(socket);
    return socket;
  }

  async disposeAll(): Promise<void> {
    await Promise.all(this.open.splice(0).map((connection) => connection.dispose()));
  }
}
