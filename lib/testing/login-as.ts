import type { INestApplication } from '@nestjs/common';
import { RequestContext } from '../context/request-context.js';
import { SessionContext } from '../context/session-context.js';
import type { CookieAttributes, RefusalCode, SessionTransport } from '../context/session-transport.js';
import { SessionValues } from '../session/session-values.js';
import { SessionService } from '../session.service.js';

/** Options of {@link loginAs}: those of `SessionService.connect()`. */
export interface LoginAsOptions {
  /** A browser-session cookie (no Max-Age) instead of one that lasts `absoluteTimeout`: what `connect()` does. */
  expire?: boolean;
}

/** The `User-Agent` the session records (`listSessions()` shows it), so a test session is recognisable. */
const USER_AGENT = 'nestjs-connected/testing loginAs';

/**
 * A plain-HTTP request that exists only to receive the login's cookie: no client address, no process, no cookie
 * of its own (so the login closes nothing). Whatever the engine writes to it is kept for {@link loginAs}.
 */
class LoginTransport implements SessionTransport {
  readonly kind = 'http' as const;
  readonly canSetCookies = true;
  readonly headers = { 'user-agent': USER_AGENT };
  readonly ip = undefined;
  // The name a plain-HTTP request is read under: `sid`, or `__Host-sid` when the policy says `secure: true`.
  readonly secure = false;
  // No browser sent it: CSRF does not apply.
  readonly method = undefined;
  readonly ownOrigin = undefined;
  cookie: { name: string; value: string } | undefined;

  setCookie(name: string, value: string, _options: CookieAttributes): void {
    this.cookie = { name, value };
  }

  clearCookie(_name: string, _options: CookieAttributes): void {
    this.cookie = undefined;
  }

  setHeader(_name: string, _value: string): void {}

  refuse(code: RefusalCode, message?: string): Error {
    return new Error(`nestjs-connected/testing: loginAs() was refused (${code})${message === undefined ? '' : `: ${message}`}`);
  }
}

/**
 * Logs `userId` in on the application's own engine and resolves the `Cookie` header value (`name=value`) of the new
 * session, for supertest (`.set('Cookie', cookie)`), `fetch`, or a socket client's handshake headers.
 *
 * The login is `SessionService.connect()` itself, run in a request of its own: it goes to the application's store
 * (including one put in with `overrideProvider(SESSION_STORE)`), emits `open-session` and
 * `start-connected-process` and awaits their `@OnSessionEvent` hooks (a throwing hook rejects `loginAs`), and closes
 * the user's oldest sessions past `maxSessionsPerUser`. No HTTP request is made, so the application need not listen,
 * but it must be initialised (`app.init()`, or `listen()`): hooks are found and the store opened at start-up.
 *
 * The cookie is the one a plain-HTTP request is read with: `sid=…` (or the policy's `cookie.name`), and
 * `__Host-sid=…` when the policy says `cookie: { secure: true }`, since the application then reads that name on every
 * request. Under `secure: 'auto'`, a request the application sees as HTTPS (TLS, or `X-Forwarded-Proto: https`
 * under trust proxy) reads `__Host-sid` instead: send the same value under that name.
 *
 * The session has no client address, so under `bindIp: true` its first request ends it: log such tests in through
 * the application's own login route.
 *
 * @param app an initialised application that imports `SessionModule`
 * @param userId the user to log in, as the application would pass it to `connect()`
 * @returns the `Cookie` header value, `name=value`
 * @publicApi
 */
export async function loginAs(app: INestApplication, userId: string, options: LoginAsOptions = {}): Promise<string> {
  let sessions: SessionService;
  let slot: SessionContext;
  let values: SessionValues;
  try {
    sessions = app.get(SessionService, { strict: false });
    slot = app.get(SessionContext, { strict: false });
    values = app.get(SessionValues, { strict: false });
  } catch {
    throw new Error('nestjs-connected/testing: loginAs() needs an application that imports SessionModule');
  }
  const transport = new LoginTransport();
  const context = new RequestContext(transport, undefined, values);
  await slot.run(context, () => sessions.connect(userId, options));
  const cookie = transport.cookie;
  if (cookie === undefined) {
    // connect() resolved but took the cookie back: the new session was closed at once (maxSessionsPerUser).
    throw new Error(`nestjs-connected/testing: loginAs('${userId}') made a session that was closed at once`);
  }
  return `${cookie.name}=${encodeURIComponent(cookie.value)}`;
}
