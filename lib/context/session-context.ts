import { Injectable } from '@nestjs/common';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { RequestContext } from './request-context.js';

const CONTEXT = Symbol('nestjs-connected:context');

/** One storage for the library: a slot holds one request's context, so applications in one process do not mix. */
const storage = new AsyncLocalStorage<ContextSlot>();

/**
 * The slot a request's AsyncLocalStorage store holds. The middleware opens it before anything else runs; the guard
 * fills it once it has built the request's context from the framework request.
 */
interface ContextSlot {
  context: RequestContext | undefined;
}

/** Where the current request's context lives: AsyncLocalStorage, entered with `run()` only. */
@Injectable()
export class SessionContext {
  /** Runs `fn` (the rest of the request) with an empty slot for its context. */
  open<T>(fn: () => T): T {
    return storage.run({ context: undefined }, fn);
  }

  /**
   * Makes `context` the current one: in the slot the middleware opened, or, where no middleware ran (a WebSocket
   * message), in a slot of its own around `fn`.
   */
  run<T>(context: RequestContext, fn: () => T): T {
    const slot = storage.getStore();
    if (slot !== undefined && slot.context === undefined) {
      slot.context = context;
      return fn();
    }
    return storage.run({ context }, fn);
  }

  /** The context of the request being handled, if any. */
  current(): RequestContext | undefined {
    return storage.getStore()?.context;
  }

  /** The same, for code without injection (parameter decorators on WebSocket messages, whose context is per message). */
  static current(): RequestContext | undefined {
    return storage.getStore()?.context;
  }

  /** Keeps the context on the framework request (or socket), for parameter decorators. */
  static attach(carrier: object, context: RequestContext): void {
    (carrier as { [CONTEXT]?: RequestContext })[CONTEXT] = context;
  }

  static of(carrier: unknown): RequestContext | undefined {
    return carrier !== null && typeof carrier === 'object'
      ? (carrier as { [CONTEXT]?: RequestContext })[CONTEXT]
      : undefined;
  }
}
