import type { SessionRecord } from '../../lib/index.js';
import { deferred, FaultyStore, type Deferred } from './lifecycle-helpers.js';

/**
 * A store whose reads can be held at a gate: while `hold()` is in force, every `get` waits until `release()`, so
 * that several handshakes of one session are admitted in the same turn (the race a real store's latency allows).
 * With `readFirst`, a held `get` reads the record at once and answers with it after the release: a request's check
 * then admits a session that was closed meanwhile. Unlike a MemoryStore it has no `peek`: every read is a promise,
 * as with Redis.
 */
export class GatedStore extends FaultyStore {
  private gate: Deferred | undefined;
  /** Reads waiting at the gate now. */
  waiting = 0;

  constructor(private readonly options: { readFirst?: boolean } = {}) {
    super();
  }

  hold(): void {
    this.gate = deferred();
  }

  release(): void {
    const gate = this.gate;
    this.gate = undefined;
    gate?.resolve();
  }

  override async get(key: string): Promise<SessionRecord | undefined> {
    const gate = this.gate;
    if (gate === undefined) return super.get(key);
    const early = this.options.readFirst === true ? await super.get(key) : undefined;
    this.waiting++;
    try {
      await gate.promise;
    } finally {
      this.waiting--;
    }
    return this.options.readFirst === true ? early : super.get(key);
  }
}
