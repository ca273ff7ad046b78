import { BoundedCache } from '../util/bounded-cache.js';

const PROCESS_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** A valid process (tab) id from a header value, or undefined. */
export function processIdFrom(header: string | string[] | undefined): string | undefined {
  return typeof header === 'string' && PROCESS_ID.test(header) ? header : undefined;
}

/**
 * Remembers which client processes (tabs) this server has seen, so that `start-process` fires once per process.
 * Bounded: the oldest ids are forgotten first.
 */
export class ProcessRegistry {
  private readonly seen: BoundedCache<string, true>;

  constructor(capacity = 100_000) {
    this.seen = new BoundedCache(capacity);
  }

  /** True the first time an id is seen (or after it was forgotten). */
  isNew(process: string): boolean {
    if (this.seen.get(process) !== undefined) return false;
    this.seen.set(process, true);
    return true;
  }
}
