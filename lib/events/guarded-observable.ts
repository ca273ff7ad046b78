import { Observable, Subscriber, type Observer, type Operator, type Subscription } from 'rxjs';

type Report = (error: unknown) => void;

/**
 * An Observable whose subscribers cannot crash the process: RxJS rethrows an error from a `next` callback (or an
 * unhandled `error`) on a timer, where it becomes an uncaught exception. Every subscription, including through
 * `pipe()`, is wrapped so that such errors are reported instead.
 */
export class GuardedObservable<T> extends Observable<T> {
  constructor(
    private readonly report: Report,
    subscribe?: (this: Observable<T>, subscriber: Subscriber<T>) => void | (() => void),
  ) {
    super(subscribe);
  }

  // `lift` is how every RxJS operator builds the next observable; returning a guarded one keeps the guard on pipes.
  override lift<R>(operator?: Operator<T, R>): Observable<R> {
    const observable = new GuardedObservable<R>(this.report);
    (observable as unknown as { source: Observable<T> }).source = this;
    (observable as unknown as { operator: Operator<T, R> | undefined }).operator = operator;
    return observable;
  }

  override subscribe(observerOrNext?: Partial<Observer<T>> | ((value: T) => void) | null): Subscription {
    // Operators subscribe with their own Subscriber, which already routes errors downstream: leave it as it is.
    if (observerOrNext instanceof Subscriber) return super.subscribe(observerOrNext);
    const observer: Partial<Observer<T>> = typeof observerOrNext === 'function' ? { next: observerOrNext } : (observerOrNext ?? {});
    const report = this.report;
    return super.subscribe({
      next(value) {
        try {
          observer.next?.(value);
        } catch (error) {
          report(error);
        }
      },
      error(error) {
        if (observer.error === undefined) return report(error);
        try {
          observer.error(error);
        } catch (thrown) {
          report(thrown);
        }
      },
      complete() {
        try {
          observer.complete?.();
        } catch (error) {
          report(error);
        }
      },
    });
  }
}
