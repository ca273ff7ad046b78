import { Injectable } from '@nestjs/common';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { RequestContext } from './request-context.js';

const CONTEXT = Symbol('nestjs-connected:context');

/** Where the current request's context lives: AsyncLocalStorage, entered with `run()` only. */
@Injectable()
export class SessionContext {
  private readonly storage = new AsyncLocalStorage<RequestContext>();

  run<T>(context: RequestContext, fn: () => T): T {
    return this.storage.run(context, fn);
  }

  /** The context of the request being handled, if any. */
  current(): RequestContext | undefined {
    return this.storage.getStore();
  }

  /** Keeps the context on the framework request (or socket), for parameter decorators and later stages. */
  static attach(carrier: object, context: RequestContext): void {
    (carrier as { [CONTEXT]?: RequestContext })[CONTEXT] = context;
  }

  static of(carrier: unknown): RequestContext | undefined {
    return carrier !== null && typeof carrier === 'object'
      ? (carrier as { [CONTEXT]?: RequestContext })[CONTEXT]
      : undefined;
  }
}
