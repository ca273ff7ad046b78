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
import { actorOf, persistedValues, type PersistedValue } from './record-fields.js';
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
    const actor = actorOf(record);
    if (userId !== undefined) {
      await this.events.emit({ type: 'pre-close-session', transport, userId, ...actor, session: key, reason });
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
      await this.events.emit({ type: 'post-close-session', transport, userId, ...actor, session: key, reason });
    }
    return moved;
  }

  /**
   * Closes the oldest sessions of a connected user past `max` in one step of the store (`trimUser`), so that logins
   * racing on several requests or servers never close more, together, than the bound asks. Every `candidate` (the
   * oldest past the bound in the caller's `listUser`, oldest first) gets its `pre-close-session` first, and a hook
   * that throws stops everything before the store is called; their in-memory values are taken out. The store then
   * removes as many of the candidates as the user's sessions exceed `max` now. Each session it removed runs its
   * values' `onDelete` and gets its `post-close-session`. A candidate it kept (a racing close got there first, or the
   * user has fewer sessions by now) gets its values back, or their `onDelete` when it has gone all the same: such a
   * candidate was announced without being closed here. Resolves the keys of the sessions it closed.
   */
  async trim(
    userId: string,
    candidates: ReadonlyArray<readonly [key: string, record: SessionRecord]>,
    max: number,
    reason: SessionEventReason,
    transport: TransportKind,
  ): Promise<string[]> {
    for (const [key, record] of candidates) {
      await this.events.emit({ type: 'pre-close-session', transport, userId, ...actorOf(record), session: key, reason });
    }
    const taken = new Map(candidates.map(([key]) => [key, this.locals.takeAll(key)] as const));
    let removed: Array<[string, SessionRecord]>;
    try {
      removed = await this.store.call('trimUser', userId, max, [...taken.keys()]);
    } catch (error) {
      for (const [key, values] of taken) this.locals.restore(key, values);
      throw error;
    }
    const closed = removed.map(([key]) => key);
    for (const [key, values] of taken) if (!closed.includes(key)) await this.giveBack(key, values);
    for (const [key, record] of removed) {
      await this.runOnDeletes(taken.get(key) ?? this.locals.takeAll(key), persistedValues(record, false));
      await this.events.emit({ type: 'post-close-session', transport, userId, ...actorOf(record), session: key, reason });
    }
    return closed;
  }

  /**
   * The values of a session a close took out but did not remove: back in place, or, when the session has left the
   * store meanwhile (its remover found nothing here to drop), to their `onDelete`. Checked after the values are back,
   * so that a removal heard later finds them.
   */
  private async giveBack(key: string, values: DroppedValue[]): Promise<void> {
    if (values.length === 0) return;
    this.locals.restore(key, values);
    const record = await this.store.call('get', key).catch(() => null);
    if (record === undefined) await this.runOnDeletes(this.locals.takeAll(key), []);
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
   * here go, with `onDelete` (for a move, they follow the session to its new key instead). Persisted values run
   * `onDelete` only where the store hands over the record of an expiry or eviction: a `destroyed` removal was asked
   * for by a close, which runs them.
   */
  private onRemoval(removal: StoreRemoval): void {
    const { key, record, reason, movedTo } = removal;
    if (movedTo !== undefined) {
      // The session goes on under a new id (`reauthenticate()` on this server or another): its values here follow
      // it, as the server that moved it moved its own. Nothing leaves, so no onDelete.
      this.locals.restore(movedTo, this.locals.takeAll(key));
      return;
    }
    const values = this.locals.takeAll(key);
    const persisted = reason !== 'destroyed' && record !== undefined ? persistedValues(record, false) : [];
    const userId = record?.userId;
    if (values.length === 0 && persisted.length === 0 && (userId === undefined || reason === 'destroyed')) return;
    const cleanup = (async () => {
      await this.runOnDeletes(values, persisted);
      if (userId === undefined) return;
      const actor = actorOf(record);
      if (reason === 'expired') {
        const why = endedImpersonation(record) ? 'impersonation-ended' : reason;
        await this.events.emitDetached({ type: 'session-expired', transport: 'http', userId, ...actor, session: key, reason: why });
      } else if (reason === 'evicted') {
        await this.events.emitDetached({ type: 'post-close-session', transport: 'http', userId, ...actor, session: key, reason });
      }
    })();
    this.cleanups.add(cleanup);
    void cleanup.finally(() => this.cleanups.delete(cleanup));
  }
}

/**
 * An impersonated session that expired at its absolute end, which `impersonate()` set to its `maxDuration` (or the
 * actor's own session's end, if sooner): the impersonation is over. One that went idle first just expired.
 */
function endedImpersonation(record: SessionRecord | undefined): boolean {
  return record?.actorId !== undefined && record.absoluteExpiresAt <= record.idleExpiresAt;
}
