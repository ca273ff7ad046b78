import { Injectable } from '@nestjs/common';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { RequestContext } from './request-context.js';

/** Builds a request's context from the framework's request and response, on first use. */
export interface ContextOpener {
  contextOf(request: unknown, response: unknown): RequestContext;
}

/**
 * The AsyncLocalStorage store of one request or message. A transport opens it before anything else runs; the
 * context itself is built on first use, so that a request nobody asks about costs one small object.
 *
 * A class, not an object literal: V8 may decide that a literal's objects are long-lived and allocate them straight
 * into the old generation (allocation-site pretenuring, which Node 22 does to this path after logins over Redis), and
 * an old slot keeps its young request and response alive through every scavenge. Objects made with `new` carry no
 * allocation site (docs/ARCHITECTURE.md, "Node 22: V8 keeps tenuring the read").
 */
class ContextSlot {
  constructor(
    public context: RequestContext | undefined,
    public opener: ContextOpener | undefined,
    public request: unknown,
    public response: unknown,
  ) {}
}

/** One storage for the library: a slot holds one request's context, so applications in one process do not mix. */
const storage = new AsyncLocalStorage<ContextSlot>();

/**
 * Where the current request's context lives: AsyncLocalStorage, entered with `run()` only (`enterWith()` leaks
 * context between requests on Node < 24). Transports open slots; everything else only reads them.
 */
@Injectable()
export class SessionContext {
  /** Runs `fn` (the rest of an HTTP request) in a slot whose context `opener` builds when first asked for. */
  open<T>(opener: ContextOpener, request: unknown, response: unknown, fn: () => T): T {
    return storage.run(new ContextSlot(undefined, opener, request, response), fn);
  }

  /** Runs `fn` with `context` as the current one, in a slot of its own (a WebSocket message). */
  run<T>(context: RequestContext | undefined, fn: () => T): T {
    return storage.run(new ContextSlot(context, undefined, undefined, undefined), fn);
  }

  /** The context of the request being handled, if any. */
  current(): RequestContext | undefined {
    return SessionContext.current();
  }

  /** The current context, or an error naming what needed it. */
  require(what: string): RequestContext {
    const context = SessionContext.current();
    if (context === undefined) {
      throw new Error(`nestjs-connected: ${what} needs a request context (call it from a handler, not at start-up)`);
    }
    return context;
  }

  /** The same, for code without injection (parameter decorators). */
  static current(): RequestContext | undefined {
    const slot = storage.getStore();
    if (slot === undefined) return undefined;
    if (slot.context === undefined && slot.opener !== undefined) {
      slot.context = slot.opener.contextOf(slot.request, slot.response);
      slot.opener = undefined;
      slot.request = slot.response = undefined;
    }
    return slot.context;
  }
}
