import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { SessionStoreUnavailableException } from '../../../lib/exceptions/session-store-unavailable.exception.js';
import { MemoryStore } from '../../../lib/stores/memory/memory.store.js';
import type { SessionStore, StoreRemoval } from '../../../lib/stores/session-store.js';
import { TimedStore } from '../../../lib/stores/timed-store.js';
import { deferred } from '../../support/lifecycle-helpers.js';

/** A MemoryStore whose `get` answers what the test says, and which records what it is told of missed deadlines. */
class ScriptedStore extends MemoryStore {
  answer: () => Promise<undefined> = () => Promise.resolve(undefined);
  readonly timedOut: string[] = [];

  override get(): Promise<undefined> {
    return this.answer();
  }

  callTimedOut(method: string): void {
    this.timedOut.push(method);
  }
}

describe('TimedStore', () => {
  let lines: string[];
  let store: ScriptedStore;

  beforeEach(() => {
    jest.useFakeTimers();
    lines = [];
    for (const level of ['error', 'warn', 'log'] as const) {
      jest.spyOn(Logger.prototype, level).mockImplementation((message: unknown) => {
        lines.push(String(message));
      });
    }
    store = new ScriptedStore();
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await store.close();
    jest.useRealTimers();
  });

  it('says which optional methods the store implements', () => {
    const timed = new TimedStore(store, 100);
    expect(timed.supports('trimUser')).toBe(true);
    expect(timed.supports('callTimedOut')).toBe(true);
    const bare = Object.create(store) as SessionStore & { trimUser?: unknown; callTimedOut?: unknown };
    Object.defineProperty(bare, 'trimUser', { value: undefined });
    expect(new TimedStore(bare, 100).supports('trimUser')).toBe(false);
    expect(new TimedStore(bare, 100).supports('create')).toBe(true);
  });

  it('owns the deadline: a late call is a 503, one line naming the method and the limit, and the store is told', async () => {
    const timed = new TimedStore(store, 100);
    store.answer = () => new Promise(() => undefined);
    const call = timed.call('get', 'k');
    const outcome = expect(call).rejects.toBeInstanceOf(SessionStoreUnavailableException);
    await jest.advanceTimersByTimeAsync(125);
    await outcome;
    expect(lines).toEqual(['Store call get had no answer within 100 ms (storeTimeout)']);
    expect(store.timedOut).toEqual(['get']);
  });

  it('tells the store nothing of a call that failed in time, and logs the failure once', async () => {
    const timed = new TimedStore(store, 100);
    store.answer = () => Promise.reject(new Error('backend down'));
    await expect(timed.call('get', 'k')).rejects.toBeInstanceOf(SessionStoreUnavailableException);
    await jest.advanceTimersByTimeAsync(200);
    expect(lines).toEqual(['Store call get failed: backend down']);
    expect(store.timedOut).toEqual([]);
  });

  it('ignores a late answer, and passes an answer in time through', async () => {
    const timed = new TimedStore(store, 100);
    const late = deferred<undefined>();
    store.answer = () => late.promise;
    const outcome = expect(timed.call('get', 'k')).rejects.toBeInstanceOf(SessionStoreUnavailableException);
    await jest.advanceTimersByTimeAsync(125);
    late.resolve(undefined);
    await outcome;
    store.answer = () => Promise.resolve(undefined);
    await expect(timed.call('get', 'k')).resolves.toBeUndefined();
    expect(store.timedOut).toEqual(['get']);
  });

  it('survives a store that throws on being told, and works with one that cannot be told', async () => {
    const throwing = new ScriptedStore();
    throwing.answer = () => new Promise(() => undefined);
    throwing.callTimedOut = () => {
      throw new Error('oops');
    };
    const outcome = expect(new TimedStore(throwing, 100).call('get', 'k')).rejects.toBeInstanceOf(SessionStoreUnavailableException);
    await jest.advanceTimersByTimeAsync(125);
    await outcome;
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/oops/);
    await throwing.close();

    const plain: SessionStore = new MemoryStore();
    const hanging = jest.spyOn(plain, 'listUser').mockReturnValue(new Promise(() => undefined));
    const listed = expect(new TimedStore(plain, 100).call('listUser', 'u')).rejects.toBeInstanceOf(SessionStoreUnavailableException);
    await jest.advanceTimersByTimeAsync(125);
    await listed;
    expect(hanging).toHaveBeenCalledTimes(1);
    await plain.close?.();
  });

  it('passes subscribe, open and close through to the store, untimed', async () => {
    const timed = new TimedStore(store, 100);
    const heard: StoreRemoval[] = [];
    const unsubscribe = timed.subscribe((removal) => heard.push(removal));
    await timed.open();
    const record = {
      epoch: 0,
      createdAt: Date.now(),
      lastSeenAt: Date.now(),
      idleExpiresAt: Date.now() + 1000,
      absoluteExpiresAt: Date.now() + 2000,
      data: {},
    };
    await store.create('k', record, { maxAnonymous: 10 });
    await store.destroy('k');
    expect(heard).toEqual([{ key: 'k', reason: 'destroyed', record }]);
    unsubscribe();
    await store.create('k2', record, { maxAnonymous: 10 });
    await store.destroy('k2');
    expect(heard).toHaveLength(1);
    await timed.close();

    // A store without open and close.
    const bare = { subscribe: () => () => undefined } as unknown as SessionStore;
    await expect(new TimedStore(bare, 100).open()).resolves.toBeUndefined();
    await expect(new TimedStore(bare, 100).close()).resolves.toBeUndefined();
  });
});
