/** One Server-Sent Event as the client parsed it: its `event:` name (`message` without one) and its `data:`. */
export interface StreamEvent {
  event: string;
  data: any;
}

/** An open Server-Sent Events stream over real HTTP (Node's fetch), read event by event. */
export interface TestStream {
  readonly events: StreamEvent[];
  /** Resolves the next event not yet taken (already received ones count); rejects after `timeoutMs`. */
  next(timeoutMs?: number): Promise<StreamEvent>;
  /** Resolves once the server ended the response. */
  readonly ended: Promise<void>;
  readonly isOpen: boolean;
  close(): void;
}

/** Opens `url` as an event stream with `cookie`; rejects with the status when the answer is not a stream. */
export async function openStream(url: string, cookie: string): Promise<TestStream> {
  const abort = new AbortController();
  const response = await fetch(url, { headers: { cookie, accept: 'text/event-stream' }, signal: abort.signal });
  if (response.status !== 200 || response.body === null) {
    const text = await response.text();
    throw new Error(`no stream: ${response.status} ${text}`);
  }
  const events: StreamEvent[] = [];
  const waiters: Array<() => void> = [];
  let taken = 0;
  let open = true;
  const wake = () => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const ended = (async () => {
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = parseBlock(block);
          if (event !== undefined) events.push(event);
        }
        wake();
      }
    } catch {
      // Aborted by close(): the stream is over for this client.
    } finally {
      open = false;
      wake();
    }
  })();
  return {
    events,
    ended,
    get isOpen() {
      return open;
    },
    async next(timeoutMs = 3000) {
      const deadline = Date.now() + timeoutMs;
      while (taken >= events.length) {
        if (!open) throw new Error('the stream ended');
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no event within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return events[taken++]!;
    },
    close() {
      abort.abort();
    },
  };
}

function parseBlock(block: string): StreamEvent | undefined {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
  }
  if (data.length === 0) return undefined;
  const text = data.join('\n');
  try {
    return { event, data: JSON.parse(text) as unknown };
  } catch {
    return { event, data: text };
  }
}
