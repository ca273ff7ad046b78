import { jest } from '@jest/globals';
import { Deadlines } from '../../../lib/util/deadlines.js';
import { deferred } from '../../support/lifecycle-helpers.js';

/** What a promise has done so far, read without awaiting it. */
function track<T>(promise: Promise<T>) {
  const state: { status: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } = { status: 'pending' };
  promise.then(
    (value) => Object.assign(state, { status: 'resolved', value }),
    (error: unknown) => Object.assign(state, { status: 'rejected', error }),
  );
  return state;
}

describe('Deadlines', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('passes an answer in time through unchanged', async () => {
    const deadlines = new Deadlines(100);
    const call = deferred<string>();
    const bounded = deadlines.bound(call.promise);
    await jest.advanceTimersByTimeAsync(50);
    call.resolve('answer');
    await expect(bounded).resolves.toBe('answer');
  });

  it('maps a rejection through fail', async () => {
    const deadlines = new Deadlines(100);
    const cause = new Error('store down');
    const bounded = deadlines.bound(Promise.reject(cause), (error) => new Error(`mapped: ${(error as Error).message}`));
    await expect(bounded).rejects.toThrow('mapped: store down');
  });

  it('refuses a late promise between one and one and a quarter timeouts, with the late message, through fail', async () => {
    const deadlines = new Deadlines(100, 'too slow');
    const fail = jest.fn((error: unknown) => new Error(`503 (${(error as Error).message})`));
    const state = track(deadlines.bound(new Promise<never>(() => undefined), fail));
    await jest.advanceTimersByTimeAsync(99);
    expect(state.status).toBe('pending');
    await jest.advanceTimersByTimeAsync(26);
    expect(state.status).toBe('rejected');
    expect((state.error as Error).message).toBe('503 (too slow)');
    expect(fail).toHaveBeenCalledTimes(1);
  });

  it('ignores an answer that comes after the refusal, and refuses only what is late', async () => {
    const deadlines = new Deadlines(100);
    const slow = deferred<string>();
    const early = track(deadlines.bound(slow.promise));
    await jest.advanceTimersByTimeAsync(60);
    const later = deferred<string>();
    const second = track(deadlines.bound(later.promise));
    await jest.advanceTimersByTimeAsync(65);
    expect(early.status).toBe('rejected');
    expect(second.status).toBe('pending');
    slow.resolve('too late');
    later.resolve('in time');
    await jest.advanceTimersByTimeAsync(0);
    expect(early.status).toBe('rejected');
    expect(second).toMatchObject({ status: 'resolved', value: 'in time' });
  });

  it('stops its timer once nothing waits, and starts it again for the next promise', async () => {
    const deadlines = new Deadlines(100);
    await deadlines.bound(Promise.resolve(1));
    await jest.advanceTimersByTimeAsync(50);
    expect(jest.getTimerCount()).toBe(0);
    const state = track(deadlines.bound(new Promise<never>(() => undefined)));
    expect(jest.getTimerCount()).toBe(1);
    await jest.advanceTimersByTimeAsync(125);
    expect(state.status).toBe('rejected');
    await jest.advanceTimersByTimeAsync(50);
    expect(jest.getTimerCount()).toBe(0);
  });
});
