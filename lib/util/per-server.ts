/**
 * Values kept per HTTP server of the process, for code that sees a request but not the application it belongs to
 * (a GraphQL driver's WebSocket server, an interceptor shared by every application in the process). Keyed weakly:
 * a closed application's server takes its value with it.
 */
export class PerServer<T extends object> {
  private readonly values = new WeakMap<object, T>();

  set(server: unknown, value: T): void {
    if (isObject(server)) this.values.set(server, value);
  }

  get(server: unknown): T | undefined {
    return isObject(server) ? this.values.get(server) : undefined;
  }

  /** Forgets `server`'s value if it is still `value` (a later application on the same server keeps its own). */
  delete(server: unknown, value: T): void {
    if (isObject(server) && this.values.get(server) === value) this.values.delete(server);
  }
}

/** The server that accepted a request: Node's `IncomingMessage`, or a framework request that wraps one (`raw`). */
export function serverOf(request: unknown): unknown {
  const incoming = (request as { raw?: unknown } | undefined)?.raw ?? request;
  return (incoming as { socket?: { server?: unknown } } | undefined)?.socket?.server;
}

function isObject(value: unknown): value is object {
  return value !== null && typeof value === 'object';
}
