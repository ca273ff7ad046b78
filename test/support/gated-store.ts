import type { SessionRecord } from '../../lib/index.js';
import { deferred, FaultyStore, type Deferred } from './lifecycle-helpers.js';

/**
 * A store whose reads can be held at a gate: while `hold()` is in force, every `get` waits until `release()`, so
 * that several handshakes of one session are admitted in the same turn (the race a real store's latency allows).
 * Unlike a MemoryStore it has no `peek`: every read is a promise, as with Redis.
 */
export class GatedStore extends FaultyStore {
  private gate: Deferred | undefined;
  /** Reads waiting at the gate now. */
  waiting = 0;

  hold(): void {
    this.gate = deferred();
  }

  release(): void {
    const gate = this.gate;
    this.gate = undefined;
    gate?.resolve();
  }

  override get(key: string): Promise<SessionRecord | undefined> {
    const gate = this.gate;
    if (gate === undefined) return super.get(key);
    this.waiting++;
    return gate.promise.then(() => {
      this.waiting--;
      return super.get(key);
    });
  }
}
