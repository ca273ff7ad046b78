import { config, map, Subject, type Subscription } from 'rxjs';
import { GuardedObservable } from '../../../lib/events/guarded-observable.js';

/*
 * RxJS turns an error that no one handles into `setTimeout(() => { throw error })`, i.e. an uncaught exception.
 * Inside Jest's sandbox `process.on('uncaughtException')` never fires (the sandbox has its own `process` emitter;
 * Jest's own handler sits on the real one), so the tests watch the exact hook RxJS calls instead:
 * `config.onUnhandledError`. The first test proves that this detector does catch an unguarded subscriber.
 */
let uncaught: unknown[];

beforeEach(() => {
  uncaught = [];
  config.onUnhandledError = (error) => uncaught.push(error);
});

afterEach(() => {
  config.onUnhandledError = null;
});

/** Lets the timers RxJS uses to rethrow errors run. */
async function macrotasks(count = 5): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

/** A guarded stream over a Subject, built the way SessionEvents builds `sessionEvents$`. */
function guarded() {
  const subject = new Subject<number>();
  const reported: unknown[] = [];
  const stream$ = new GuardedObservable<number>(
    (error) => reported.push(error),
    (subscriber) => {
      const subscription = subject.subscribe(subscriber);
      return () => subscription.unsubscribe();
    },
  );
  return { subject, stream$, reported };
}

describe('GuardedObservable', () => {
  it('(detector check) an unguarded subscriber that throws does reach the uncaught path', async () => {
    const subject = new Subject<number>();
    subject.subscribe(() => {
      throw new Error('unguarded');
    });
    subject.next(1);
    await macrotasks();
    expect(uncaught).toEqual([new Error('unguarded')]);
  });

  it('reports an error thrown by a next callback instead of letting it escape', async () => {
    const { subject, stream$, reported } = guarded();
    const error = new Error('subscriber bug');
    stream$.subscribe(() => {
      throw error;
    });
    subject.next(1);
    await macrotasks();
    expect(uncaught).toEqual([]);
    expect(reported).toEqual([error]);
  });

  it('keeps delivering to a subscriber after its next callback threw, and to the others', async () => {
    const { subject, stream$, reported } = guarded();
    const first: number[] = [];
    const second: number[] = [];
    stream$.subscribe((value) => {
      first.push(value);
      if (value === 1) throw new Error('once');
    });
    stream$.subscribe({ next: (value) => second.push(value) });
    subject.next(1);
    subject.next(2);
    await macrotasks();
    expect(first).toEqual([1, 2]);
    expect(second).toEqual([1, 2]);
    expect(reported).toHaveLength(1);
    expect(uncaught).toEqual([]);
  });

  it('reports an error thrown inside a pipe when the subscriber has no error handler', async () => {
    const { subject, stream$, reported } = guarded();
    const error = new Error('operator bug');
    stream$
      .pipe(
        map(() => {
          throw error;
        }),
      )
      .subscribe(() => undefined);
    subject.next(1);
    await macrotasks();
    expect(uncaught).toEqual([]);
    expect(reported).toEqual([error]);
  });

  it('reports a next callback that throws behind several operators', async () => {
    const { subject, stream$, reported } = guarded();
    stream$
      .pipe(
        map((value) => value * 2),
        map((value) => value + 1),
      )
      .subscribe({
        next: () => {
          throw new Error('deep');
        },
      });
    subject.next(1);
    await macrotasks();
    expect(uncaught).toEqual([]);
    expect(reported).toEqual([new Error('deep')]);
  });

  it('gives stream errors to an error handler when there is one', async () => {
    const { subject, stream$, reported } = guarded();
    const handled: unknown[] = [];
    stream$.subscribe({ error: (error) => handled.push(error) });
    subject.error(new Error('source failed'));
    await macrotasks();
    expect(handled).toEqual([new Error('source failed')]);
    expect(reported).toEqual([]);
    expect(uncaught).toEqual([]);
  });

  it('reports an error handler or complete handler that throws', async () => {
    const first = guarded();
    first.stream$.subscribe({
      error: () => {
        throw new Error('error handler bug');
      },
    });
    first.subject.error(new Error('source failed'));

    const second = guarded();
    second.stream$.subscribe({
      complete: () => {
        throw new Error('complete handler bug');
      },
    });
    second.subject.complete();

    await macrotasks();
    expect(first.reported).toEqual([new Error('error handler bug')]);
    expect(second.reported).toEqual([new Error('complete handler bug')]);
    expect(uncaught).toEqual([]);
  });

  it('delivers values through pipes unchanged', () => {
    const { subject, stream$ } = guarded();
    const seen: number[] = [];
    stream$.pipe(map((value) => value * 10)).subscribe((value) => seen.push(value));
    subject.next(1);
    subject.next(2);
    expect(seen).toEqual([10, 20]);
  });

  describe('unsubscribing', () => {
    it('stops delivery and detaches from the source', () => {
      const { subject, stream$ } = guarded();
      const seen: number[] = [];
      const subscription = stream$.subscribe((value) => seen.push(value));
      subject.next(1);
      expect(subject.observed).toBe(true);
      subscription.unsubscribe();
      subject.next(2);
      expect(seen).toEqual([1]);
      expect(subject.observed).toBe(false);
    });

    it('stops delivery through a pipe and detaches from the source', () => {
      const { subject, stream$ } = guarded();
      const seen: number[] = [];
      const subscription: Subscription = stream$.pipe(map((value) => value + 1)).subscribe((value) => seen.push(value));
      subject.next(1);
      expect(subject.observed).toBe(true);
      subscription.unsubscribe();
      subject.next(2);
      expect(seen).toEqual([2]);
      expect(subject.observed).toBe(false);
    });

    it('detaches a subscription that ended by an error in its pipe', async () => {
      const { subject, stream$ } = guarded();
      stream$
        .pipe(
          map(() => {
            throw new Error('x');
          }),
        )
        .subscribe(() => undefined);
      subject.next(1);
      await macrotasks();
      expect(subject.observed).toBe(false);
    });
  });
});
