import type { CookieAttributes, RefusalCode, SessionTransport } from '../../context/session-transport.js';

/**
 * A Server-Sent Events stream as a client of its session: the facts of the HTTP request that opened it, with
 * `kind: 'sse'`. Its headers went out with the first event, so nothing can be written to it but events.
 */
export class SseTransport implements SessionTransport {
  readonly kind = 'sse' as const;
  readonly canSetCookies = false;
  /** The stream's request was checked when it arrived (a GET); its later events are not requests. */
  readonly method = undefined;
  readonly ownOrigin = undefined;

  constructor(private readonly request: SessionTransport) {}

  get headers(): SessionTransport['headers'] {
    return this.request.headers;
  }

  get ip(): string | undefined {
    return this.request.ip;
  }

  get secure(): boolean {
    return this.request.secure;
  }

  setCookie(_name: string, _value: string, _options: CookieAttributes): void {}

  clearCookie(_name: string, _options: CookieAttributes): void {}

  setHeader(_name: string, _value: string): void {}

  refuse(code: RefusalCode, message?: string, handler?: string): Error {
    return this.request.refuse(code, message, handler);
  }
}
