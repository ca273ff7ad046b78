import autocannon from 'autocannon';
import type { CpuReading } from './cpu.js';

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
  /** req/s of each measured slice, in order, when the cell was measured in slices (see {@link SlicedCell}). */
  slices?: number[];
  /** µs of the server process's CPU (user + system) per response over the measured slices. */
  serverCpuUsPerRequest?: number;
  /** µs of redis-server's CPU per response over the measured slices (Redis variants). */
  redisCpuUsPerRequest?: number;
  /** µs of server CPU per response of each start of the server, in order, when it was started more than once. */
  startsCpuUsPerRequest?: number[];
}

export interface LoadOptions {
  url: string;
  method: 'GET' | 'POST';
  path: string;
  /** Session cookies (`name=value`): one is sent by every connection; more are spread round-robin over requests. */
  cookies: string[];
  connections: number;
  /** Reads CPU counters (µs) around every measured slice (support/cpu.ts). */
  cpu?: () => Promise<CpuReading>;
}

/** The value at quantile `q` of sorted `values`. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index]!;
}

/** The middle value; with an even count, the mean of the two middle ones. */
export function median(values: number[]): number {
  const sorted = Float64Array.from(values).sort();
  const middle = sorted.length >> 1;
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
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

/**
 * One cell measured in several slices, interleaved by the caller with the slices of other variants, so that a slow
 * spell of a shared machine falls on all of them rather than on whichever ran then, and possibly on several starts of
 * the server ({@link SlicedCell.restarted}). req/s is the median over the slices; latency percentiles are over every
 * response of every slice; counts and CPU are summed.
 */
export class SlicedCell {
  /** Server CPU (µs) and responses of each start's slices. */
  private readonly starts: Array<{ cpu: number; responses: number }> = [{ cpu: 0, responses: 0 }];
  private readonly latencies = new Latencies();
  private readonly rates: number[] = [];
  private readonly statuses: Record<string, number> = {};
  private non2xx = 0;
  private errors = 0;
  private timeouts = 0;
  private seconds = 0;
  private redisCpu: number | undefined;

  constructor(private options: LoadOptions) {}

  /** The same cell on a new start of the server (its URL, its logins, its CPU counter): the next slices go there. */
  restarted(options: LoadOptions): void {
    this.options = options;
    this.starts.push({ cpu: 0, responses: 0 });
  }

  /** Load thrown away (before the first slice). */
  async warmUp(seconds: number): Promise<void> {
    if (seconds > 0) await once(this.options, seconds);
  }

  async slice(seconds: number): Promise<void> {
    const before = await this.options.cpu?.();
    const result = await once(this.options, seconds, this.latencies);
    const after = await this.options.cpu?.();
    this.rates.push(result.requests.average);
    let responses = 0;
    for (const [code, { count }] of Object.entries(result.statusCodeStats)) {
      this.statuses[code] = (this.statuses[code] ?? 0) + count;
      responses += count;
    }
    const start = this.starts[this.starts.length - 1]!;
    start.responses += responses;
    if (before !== undefined && after !== undefined) {
      start.cpu += after.serverUs - before.serverUs;
      if (before.redisUs !== undefined && after.redisUs !== undefined)
        this.redisCpu = (this.redisCpu ?? 0) + after.redisUs - before.redisUs;
    }
    this.non2xx += result.non2xx;
    this.errors += result.errors;
    this.timeouts += result.timeouts;
    this.seconds += result.duration;
  }

  result(): LoadResult {
    const sorted = this.latencies.sorted();
    const sliceResponses = this.starts.reduce((sum, start) => sum + start.responses, 0);
    return {
      requestsPerSecond: median(this.rates),
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      responses: Object.values(this.statuses).reduce((sum, count) => sum + count, 0),
      non2xx: this.non2xx,
      errors: this.errors,
      timeouts: this.timeouts,
      statuses: this.statuses,
      seconds: this.seconds,
      slices: [...this.rates],
      ...(this.options.cpu === undefined || sliceResponses === 0
        ? {}
        : { serverCpuUsPerRequest: this.starts.reduce((sum, start) => sum + start.cpu, 0) / sliceResponses }),
      ...(this.redisCpu === undefined || sliceResponses === 0 ? {} : { redisCpuUsPerRequest: this.redisCpu / sliceResponses }),
      ...(this.options.cpu === undefined || this.starts.length < 2
        ? {}
        : { startsCpuUsPerRequest: this.starts.map((start) => (start.responses === 0 ? Number.NaN : start.cpu / start.responses)) }),
    };
  }
}

/**
 * Measures several targets side by side: each is warmed up, then `rounds` rounds each give every target one slice of
 * `seconds / rounds`, in an order rotated by one per round.
 */
export async function interleave(cells: SlicedCell[], warmupSeconds: number, seconds: number, rounds: number): Promise<void> {
  for (const cell of cells) await cell.warmUp(warmupSeconds);
  const slice = seconds / rounds;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < cells.length; i++) await cells[(i + round) % cells.length]!.slice(slice);
  }
}
