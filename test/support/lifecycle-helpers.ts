import type { INestApplication } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import {
  MemoryStore,
  SessionService,
  type SessionEvent,
  type SessionEventType,
  type SessionRecord,
  type SessionStore,
  type StoreLimits,
  type StoreRemoval,
} from '../../lib/index.js';

/** A promise with its resolve function outside, to hold a handler at a known point. */
export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `predicate` until it is true, or throws after `timeoutMs` (a generous upper bound, not a speed claim). */
export async function waitUntil(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`waitUntil: ${what} did not happen within ${timeoutMs} ms`);
    await sleep(20);
  }
}

export type FaultMode = 'ok' | 'reject' | 'hang';

type StoreMethod = Exclude<keyof SessionStore, 'subscribe' | 'open' | 'close'>;

/**
 * A fault injector: a real MemoryStore behind a switch. In `reject` mode every data call fails, in `hang` mode it
 * never answers (and never reaches the real store). `subscribe`, `open` and `close` always pass through. Counts
 * the calls per method.
 */
export class FaultyStore implements SessionStore {
  mode: FaultMode = 'ok';
  readonly calls: Record<string, number> = {};

  constructor(readonly inner: MemoryStore = new MemoryStore()) {}

  get size(): number {
    return this.inner.size;
  }

  private run<R>(method: StoreMethod, call: () => Promise<R>): Promise<R> {
    this.calls[method] = (this.calls[method] ?? 0) + 1;
    if (this.mode === 'reject') return Promise.reject(new Error(`injected fault in ${method}`));
    if (this.mode === 'hang') return new Promise<R>(() => undefined);
    return call();
  }

  create(key: string, record: SessionRecord, limits: StoreLimits) {
    return this.run('create', () => this.inner.create(key, record, limits));
  }
  get(key: string) {
    return this.run('get', () => this.inner.get(key));
  }
  setField(key: string, field: string, value: string) {
    return this.run('setField', () => this.inner.setField(key, field, value));
  }
  deleteField(key: string, field: string) {
    return this.run('deleteField', () => this.inner.deleteField(key, field));
  }
  touch(key: string, lastSeenAt: number, idleExpiresAt: number) {
    return this.run('touch', () => this.inner.touch(key, lastSeenAt, idleExpiresAt));
  }
  destroy(key: string, movedTo?: string) {
    return this.run('destroy', () => this.inner.destroy(key, movedTo));
  }
  listUser(userId: string) {
    return this.run('listUser', () => this.inner.listUser(userId));
  }
  closeUser(userId: string, keep?: string) {
    return this.run('closeUser', () => this.inner.closeUser(userId, keep));
  }
  epochOf(userId: string) {
    return this.run('epochOf', () => this.inner.epochOf(userId));
  }
  getUserField(userId: string, field: string) {
    return this.run('getUserField', () => this.inner.getUserField(userId, field));
  }
  setUserField(userId: string, field: string, value: string | undefined) {
    return this.run('setUserField', () => this.inner.setUserField(userId, field, value));
  }
  subscribe(listener: (removal: StoreRemoval) => void): () => void {
    return this.inner.subscribe(listener);
  }
  open(): Promise<void> {
    return this.inner.open();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Records every event of `sessionEvents$` from the moment it is created until `stop()`. */
export class EventRecorder {
  readonly events: SessionEvent[] = [];
  private readonly subscription: Subscription;

  constructor(app: INestApplication) {
    this.subscription = app.get(SessionService).sessionEvents$.subscribe((event) => this.events.push(event));
  }

  clear(): void {
    this.events.length = 0;
  }

  types(): SessionEventType[] {
    return this.events.map((event) => event.type);
  }

  /** Waits for the first recorded event that matches (a generous upper bound: never a speed claim). */
  async waitFor(match: (event: SessionEvent) => boolean, timeoutMs = 10_000): Promise<SessionEvent> {
    let found: SessionEvent | undefined;
    await waitUntil(() => (found = this.events.find(match)) !== undefined, timeoutMs, 'the awaited session event');
    return found!;
  }

  stop(): void {
    this.subscription.unsubscribe();
  }
}
