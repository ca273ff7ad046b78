import autocannon from 'autocannon';

/** One measured cell. Latencies in milliseconds. */
export interface LoadResult {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  /** Responses counted in the measured seconds. */
  responses: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Status codes seen, with counts. */
  statuses: Record<string, number>;
  seconds: number;
}

export interface LoadOptions {
  url: string;
  method: 'GET' | 'POST';
  path: string;
  /** Session cookies (`name=value`): one is sent by every connection; more are spread round-robin over requests. */
  cookies: string[];
  connections: number;
  warmupSeconds: number;
  seconds: number;
}

/** The value at quantile `q` of sorted `values`. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index]!;
}

export function median(values: number[]): number {
  return quantile(Float64Array.from(values).sort(), 0.5);
}

/** Growable record of latencies (autocannon's own histogram keeps whole milliseconds only). */
class Latencies {
  private values = new Float64Array(1 << 16);
  private length = 0;

  add(value: number): void {
    if (this.length === this.values.length) {
      const larger = new Float64Array(this.values.length * 2);
      larger.set(this.values);
      this.values = larger;
    }
    this.values[this.length++] = value;
  }

  sorted(): Float64Array {
    return this.values.slice(0, this.length).sort();
  }
}

/**
 * The requests of one connection: one prebuilt request per cookie, which the connection cycles through. Connection
 * `c` starts at cookie `c × count / connections`, so that concurrent requests carry different sessions and a short
 * run still reaches every cookie. autocannon builds each request's bytes once (a `setupRequest` would rebuild them
 * for every request), so the load generator does the same work per request whatever the number of cookies.
 */
function connectionRequests(options: LoadOptions, connection: number): autocannon.Request[] {
  const { cookies } = options;
  const offset = Math.floor((connection * cookies.length) / options.connections) % cookies.length;
  return cookies.map((_, k) => ({
    method: options.method,
    path: options.path,
    headers: { cookie: cookies[(offset + k) % cookies.length]! },
  }));
}

async function once(options: LoadOptions, seconds: number, latencies?: Latencies): Promise<autocannon.Result> {
  let connection = 0;
  const instance = autocannon({
    url: options.url,
    connections: options.connections,
    pipelining: 1,
    duration: seconds,
    timeout: 10,
    requests: connectionRequests(options, 0),
    setupClient: (client) => client.setRequests(connectionRequests(options, connection++ % options.connections)),
  });
  if (latencies !== undefined) {
    // (client, statusCode, bytes, responseTime in ms from process.hrtime)
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      if (statusCode >= 200 && statusCode < 300) latencies.add(responseTime);
    });
  }
  return await instance;
}

/** A warm-up run (thrown away), then the measured run. */
export async function measure(options: LoadOptions): Promise<LoadResult> {
  if (options.warmupSeconds > 0) await once(options, options.warmupSeconds);
  const latencies = new Latencies();
  const result = await once(options, options.seconds, latencies);
  const sorted = latencies.sorted();
  const statuses: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) statuses[code] = count;
  const responses = Object.values(statuses).reduce((sum, count) => sum + count, 0);
  return {
    requestsPerSecond: result.requests.average,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    responses,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statuses,
    seconds: result.duration,
  };
}
