/**
 * A small Server-Sent Events client over Node's fetch, for the SSE specs: it reads the response body as it arrives
 * and parses it as the HTML standard's EventSource does (fields `event`, `data`, `id`; comments and unknown fields
 * ignored; an event is dispatched at the blank line that ends it, and only when it has data). Every event carries
 * the time it was read, so that a test can measure when it arrived; the end of the body is told apart from an
 * error (a reset connection) and from the test's own abort.
 */

/** One dispatched event. */
export interface SseEvent {
  /** The `event:` field, or 'message' when the event has none (as EventSource). */
  event: string;
  /** The `data:` lines joined with '\n'. */
  data: string;
  /** The last `id:` seen so far, as EventSource's lastEventId. */
  id: string;
  /** `performance.now()` when the blank line that ends the event was read. */
  at: number;
}

/** How a stream ended: its body ended, it failed (e.g. the connection was reset), or the test aborted it. */
export interface SseEnd {
  how: 'end' | 'error' | 'aborted';
  /** `performance.now()` when the end was seen. */
  at: number;
  error?: string;
}

/** The incremental parser: feed it text as it arrives, it calls `dispatch` for every complete event. */
export class SseParser {
  private buffer = '';
  private eventType = '';
  private data = '';
  private lastEventId = '';

  constructor(private readonly dispatch: (event: SseEvent) => void) {}

  /** Feeds text; `final` at the end of the body (an unfinished event is then dropped, as EventSource does). */
  push(text: string, final = false): void {
    this.buffer += text;
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (match === null) break;
      // A CR at the very end may be the first half of a CRLF split between two chunks: wait for the next one.
      if (match[0] === '\r' && match.index === this.buffer.length - 1 && !final) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      this.line(line);
    }
    if (final) this.buffer = '';
  }

  private line(line: string): void {
    if (line === '') {
      this.end();
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.eventType = value;
        break;
      case 'data':
        this.data += `${value}\n`;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      default:
        // 'retry' and unknown fields: nothing a test looks at.
        break;
    }
  }

  private end(): void {
    const data = this.data;
    const event = this.eventType;
    this.data = '';
    this.eventType = '';
    if (data === '') return;
    this.dispatch({ event: event === '' ? 'message' : event, data: data.slice(0, -1), id: this.lastEventId, at: performance.now() });
  }
}

export interface OpenSseOptions {
  /** The Cookie header, e.g. `browser.cookieHeader()`; none when absent or empty. */
  cookie?: string;
  headers?: Record<string, string>;
  /** How long the status and headers may take before the request is aborted and the open fails (default 10 s). */
  headersWithinMs?: number;
  /** Aborts the request from outside, also before its status arrived (the open then fails with an AbortError). */
  signal?: AbortSignal;
}

/** The default bound of {@link SseConnection.waitFor}: generous, a "nothing hangs" bound, never a speed claim. */
export const SSE_WAIT_MS = 10_000;

/** An open (or refused) SSE request. */
export class SseConnection {
  /** Every event received so far, in order. */
  readonly events: SseEvent[] = [];
  /** Set once the stream has ended (see {@link ended}). */
  end: SseEnd | undefined;
  /** Resolves when the stream has ended, however it did; never rejects. */
  readonly ended: Promise<SseEnd>;
  private readonly watchers = new Set<() => void>();
  private resolveEnded!: (end: SseEnd) => void;
  private aborting = false;

  constructor(
    /** The HTTP status. */
    readonly status: number,
    readonly headers: Headers,
    /** True when the answer is an event stream (`Content-Type: text/event-stream`). */
    readonly isStream: boolean,
    /** The whole body of an answer that is no event stream, JSON-parsed when it is JSON; undefined for a stream. */
    readonly body: unknown,
    /** `performance.now()` when the status and headers arrived. */
    readonly openedAt: number,
    private readonly controller: AbortController,
  ) {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  /** The events named `name`. */
  named(name: string): SseEvent[] {
    return this.events.filter((event) => event.event === name);
  }

  /** The events (the last 10) and the end, for assertion messages. */
  describe(): string {
    const events = this.events.slice(-10).map((event) => `${event.event}: ${event.data}`);
    const skipped = this.events.length > 10 ? `${this.events.length - 10} events, then ` : '';
    return `${skipped}${JSON.stringify(events)}; end: ${this.end === undefined ? 'still open' : `${this.end.how}${this.end.error ? ` (${this.end.error})` : ''}`}`;
  }

  /** The first event (already received or still to come) that matches; fails when the stream ends or time is up. */
  waitFor(match: (event: SseEvent) => boolean, timeoutMs = SSE_WAIT_MS, what = 'the awaited event'): Promise<SseEvent> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.events.find(match);
        if (found !== undefined) return finish(() => resolve(found));
        if (this.end !== undefined) return finish(() => reject(new Error(`the stream ended without ${what}: ${this.describe()}`)));
      };
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        this.watchers.delete(check);
        settle();
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`no ${what} within ${timeoutMs} ms: ${this.describe()}`))), timeoutMs);
      this.watchers.add(check);
      check();
    });
  }

  /** The first event named `name`. */
  next(name: string, timeoutMs = SSE_WAIT_MS): Promise<SseEvent> {
    return this.waitFor((event) => event.event === name, timeoutMs, `a '${name}' event`);
  }

  /** The end of the stream, or a failure when it is still open after `timeoutMs`. */
  async endWithin(timeoutMs = SSE_WAIT_MS): Promise<SseEnd> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the stream was still open ${timeoutMs} ms later: ${this.describe()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.ended, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the stream from the client (as a browser tab that goes away) and waits until the reader has stopped. */
  async close(): Promise<SseEnd> {
    if (this.end === undefined) {
      this.aborting = true;
      this.controller.abort();
    }
    return this.ended;
  }

  /** @internal */
  received(event: SseEvent): void {
    this.events.push(event);
    this.notify();
  }

  /** @internal */
  finished(how: SseEnd['how'], error?: unknown): void {
    if (this.end !== undefined) return;
    const kind = how === 'error' && this.aborting ? 'aborted' : how;
    this.end = { how: kind, at: performance.now(), ...(error === undefined ? {} : { error: errorText(error) }) };
    this.resolveEnded(this.end);
    this.notify();
  }

  private notify(): void {
    for (const watcher of [...this.watchers]) watcher();
  }
}

function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
}

/**
 * A GET of `base + path` that reads the answer as an event stream when it is one (events are parsed as they
 * arrive, in the background), and reads the whole body otherwise (a 401 or a 503 in JSON).
 */
export async function openSse(base: string, path: string, options: OpenSseOptions = {}): Promise<SseConnection> {
  const controller = new AbortController();
  const headers: Record<string, string> = { accept: 'text/event-stream', ...options.headers };
  if (options.cookie) headers['cookie'] = options.cookie;
  if (options.signal !== undefined) {
    if (options.signal.aborted) controller.abort();
    else options.signal.addEventListener('abort', () => controller.abort(), { once: true });
  }
  const limit = options.headersWithinMs ?? SSE_WAIT_MS;
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    controller.abort();
  }, limit);
  let response: Response;
  try {
    response = await fetch(base + path, { headers, signal: controller.signal, redirect: 'manual' });
  } catch (error) {
    throw late ? new Error(`GET ${path}: no status within ${limit} ms`) : error;
  } finally {
    clearTimeout(timer);
  }
  const openedAt = performance.now();
  const isStream = (response.headers.get('content-type') ?? '').startsWith('text/event-stream');
  if (!isStream) {
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      // Not JSON: the text itself.
    }
    const connection = new SseConnection(response.status, response.headers, false, body, openedAt, controller);
    connection.finished('end');
    return connection;
  }
  const connection = new SseConnection(response.status, response.headers, true, undefined, openedAt, controller);
  const parser = new SseParser((event) => connection.received(event));
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  void (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.push(decoder.decode(value, { stream: true }));
      }
      parser.push(decoder.decode(), true);
      connection.finished('end');
    } catch (error) {
      connection.finished('error', error);
    }
  })();
  return connection;
}

/** The streams a test opened: `closeAll()` in afterEach closes those still open, so that no test leaves one behind. */
export class SsePool {
  private readonly open: SseConnection[] = [];

  constructor(private readonly base: () => string) {}

  async connect(path: string, options?: OpenSseOptions): Promise<SseConnection> {
    const connection = await openSse(this.base(), path, options);
    this.open.push(connection);
    return connection;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.open.splice(0).map((connection) => connection.close()));
  }
}
