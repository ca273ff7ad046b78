import { Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { TransportKind } from '../context/session-transport.js';
import type { SessionEventReason } from '../events/session-event.js';
import { SessionEvents } from '../events/session-events.js';
import type { SessionKey } from '../stores/session-key.js';
import type { SessionRecord } from '../stores/session-record.js';
import type { StoreRemoval } from '../stores/session-store.js';
import { TimedStore } from '../stores/timed-store.js';
import { describeError } from '../util/describe-error.js';
import { LocalValues, type DroppedValue } from './local-values.js';
import { persistedValues, type PersistedValue } from './record-fields.js';
import { SessionLog } from './session-log.js';

/**
 * Ends sessions: the close of the README's "Behaviour" (events, store removal, each value's `onDelete` exactly once), and the
 * same cleanup for sessions the store removed on its own or another server closed. Owns the store's start and
 * stop, since removals must be heard from the first request to the last cleanup.
 */
@Injectable()
export class SessionCloser implements OnModuleInit, OnApplicationShutdown {
  /** `onDelete` runs started by the store's own removals (expiry, eviction), awaited at shutdown. */
  private readonly cleanups = new Set<Promise<void>>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly store: TimedStore,
    private readonly locals: LocalValues,
    private readonly events: SessionEvents,
    private readonly log: SessionLog,
  ) {}

  async onModuleInit(): Promise<void> {
    this.unsubscribe = this.store.subscribe((removal) => this.onRemoval(removal));
    await this.store.open();
  }

  async onApplicationShutdown(): Promise<void> {
    this.unsubscribe?.();
    await Promise.allSettled(this.cleanups);
    await this.store.close();
  }

  /**
   * Closes one session: `pre-close-session` → remove it from the store → its values' `onDelete` →
   * `post-close-session` (close events for connected sessions only). The values are taken out before the store
   * call and run their `onDelete` here, once, from the record the store removed; with `moveBrowser`, browser values
   * are handed back instead, to go to another session. When the store call fails, everything stays as it was.
   */
  async close(
    key: string,
    record: SessionRecord,
    reason: SessionEventReason,
    transport: TransportKind,
    options: { moveBrowser?: boolean; announce?: boolean } = {},
  ): Promise<DroppedValue[]> {
    const { moveBrowser = false, announce = true } = options;
    const userId = announce ? record.userId : undefined;
    if (userId !== undefined) {
      await this.events.emit({ type: 'pre-close-session', transport, userId, session: key, reason });
    }
    const values = this.locals.takeAll(key);
    let removed: SessionRecord | undefined;
    try {
      removed = await this.store.call('destroy', key);
    } catch (error) {
      this.locals.restore(key, values);
      throw error;
    }
    const moved = moveBrowser ? values.filter((value) => value.key.scope === 'browser') : [];
    const dropped = moveBrowser ? values.filter((value) => value.key.scope !== 'browser') : values;
    await this.runOnDeletes(dropped, removed === undefined ? [] : persistedValues(removed, moveBrowser));
    if (userId !== undefined) {
      await this.events.emit({ type: 'post-close-session', transport, userId, session: key, reason });
    }
    return moved;
  }

  /** Runs `onDelete` for values leaving with their session: in-memory ones, then persisted ones (decoded). */
  async runOnDeletes(values: readonly DroppedValue[], persisted: readonly PersistedValue[]): Promise<void> {
    for (const { key, value } of values) await this.runOnDelete(key, value);
    for (const { key, text } of persisted) {
      let value: unknown;
      try {
        value = key.codec!.deserialize(text);
      } catch {
        this.log.warn(`Could not decode the value of key '${key.name}' for its onDelete`);
        continue;
      }
      await this.runOnDelete(key, value);
    }
  }

  /** One `onDelete`, whose failure is logged. */
  async runOnDelete(key: SessionKey<unknown>, value: unknown): Promise<void> {
    try {
      await key.onDelete?.(value);
    } catch (error) {
      this.log.error(`onDelete of key '${key.name}' failed: ${describeError(error)}`);
    }
  }

  /**
   * Sessions the store removed on its own (expiry, eviction) or that another server closed: their in-memory values
   * here go, with `onDelete`. Persisted values run `onDelete` only where the store hands over the record of an
   * expiry or eviction: a `destroyed` removal was asked for by a close, which runs them.
   */
  private onRemoval(removal: StoreRemoval): void {
    const { key, record, reason } = removal;
    const values = this.locals.takeAll(key);
    const persisted = reason !== 'destroyed' && record !== undefined ? persistedValues(record, false) : [];
    const userId = record?.userId;
    if (values.length === 0 && persisted.length === 0 && (userId === undefined || reason === 'destroyed')) return;
    const cleanup = (async () => {
      await this.runOnDeletes(values, persisted);
      if (userId === undefined) return;
      if (reason === 'expired') {
        await this.events.emitDetached({ type: 'session-expired', transport: 'http', userId, session: key, reason });
      } else if (reason === 'evicted') {
        await this.events.emitDetached({ type: 'post-close-session', transport: 'http', userId, session: key, reason });
      }
    })();
    this.cleanups.add(cleanup);
    void cleanup.finally(() => this.cleanups.delete(cleanup));
  }
}
