import type { Logger } from '@nestjs/common';
import { describeError } from '../util/describe-error.js';
import type { StoreRemoval } from './session-store.js';

/** The subscribers of a store's removals (`SessionStore.subscribe`): one failing listener never stops the others. */
export class StoreListeners {
  private readonly listeners = new Set<(removal: StoreRemoval) => void>();

  constructor(private readonly logger: Logger) {}

  get size(): number {
    return this.listeners.size;
  }

  /** Adds `listener`; returns the unsubscribe function. */
  add(listener: (removal: StoreRemoval) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  notify(removal: StoreRemoval): void {
    for (const listener of this.listeners) {
      try {
        listener(removal);
      } catch (error) {
        this.logger.error(`A store listener failed: ${describeError(error)}`);
      }
    }
  }
}
