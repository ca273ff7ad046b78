import { resolveCsrfOptions, type CsrfOptions, type ResolvedCsrfOptions } from './csrf-policy.js';
import { resolveImpersonationOptions, type ImpersonationOptions, type ResolvedImpersonationOptions } from './impersonation-policy.js';
import type { SessionStore } from './stores/session-store.js';
import type { SessionInfo } from './stores/session-info.js';

/** Where the session cookie goes and which other cookies survive a failed check. */
export interface SessionCookieOptions {
  /** Cookie name. Default `sid`; sent as `__Host-sid` when Secure and no Domain. */
  name?: string;
  /** Default `/`. */
  path?: string;
  /** Omitted by default (a host-only cookie). */
  domain?: string;
  /** Default `'lax'`. `'none'` needs `secure: true`. */
  sameSite?: 'lax' | 'strict' | 'none';
  /** `'auto'` (default): Secure when the request came over HTTPS (trust-proxy aware); `true`: always; `false`: never. */
  secure?: boolean | 'auto';
  /**
   * Called on every other request cookie when a session check fails (Simple_httpd `filter`):
   * return `false` to expire that cookie in the same response.
   */
  filter?: (name: string, value: string) => boolean;
}

/** What a session check may look at: the request's own data, never the session id. */
export interface SessionCheckRequest {
  readonly ip: string | undefined;
  /** Every request header but `Cookie` (which carries the session id). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly transport: 'http' | 'ws' | 'sse';
}

/** The options of {@link SessionModule.forRoot}. */
export interface SessionPolicy {
  /** Required. Each at least 32 characters; the first signs new cookies, all of them verify (rotation). */
  secret: string | string[];
  cookie?: SessionCookieOptions;
  /** Seconds of inactivity after which a connected session ends. Default 3600. */
  idleTimeout?: number;
  /** Seconds after creation after which a session ends whatever its activity. Default 30 days. */
  absoluteTimeout?: number;
  /** The groups of a user, for `@Connected({ allow, deny })`. Called at most once per request. */
  groups?: (userId: string) => readonly string[] | Promise<readonly string[]>;
  /** An extra check on every request that carries a session; `false` or a throw ends the session. */
  check?: (session: SessionInfo, request: SessionCheckRequest) => boolean | Promise<boolean>;
  /** End the session when the client address changes. Default false. */
  bindIp?: boolean;
  /** Default: a new `MemoryStore()`. */
  store?: SessionStore;
  /** The oldest session of a user is closed when a login would exceed this. Default 50. */
  maxSessionsPerUser?: number;
  /** Sessions that hold only `browser` data (a cart before login). */
  anonymous?: {
    /** Seconds. Default 900. */
    idleTimeout?: number;
    /** The oldest anonymous session is dropped past this. Default 10000. */
    maxSessions?: number;
    /**
     * The most anonymous sessions kept for one client address (`req.ip`, as the framework's trust-proxy setting
     * sees it): past it, that address's own oldest anonymous session is dropped, never another address's. Default 100.
     */
    maxPerAddress?: number;
  };
  /** Replaces the 401/403 of a refused request, e.g. `{ status: 302, headers: { Location: '/login' } }`. */
  denied?: { status: number; headers?: Record<string, string> };
  /** Milliseconds a store call may take before the request gets a 503. Default 1000. */
  storeTimeout?: number;
  /** Header that carries the id of the client process (tab) on HTTP requests. Default `x-process-id`. */
  processHeader?: string;
  /**
   * Send `Cache-Control: no-store` on every response of a request that ran with a connected session, so that a
   * shared cache or the back button after logout never shows a private page. Default true.
   */
  noStore?: boolean;
  /** The largest persisted value, in bytes of its serialized form; a larger `set()` is a 413. Default 65536 (64 KiB). */
  maxValueBytes?: number;
  /**
   * The most bytes of persisted `session` and `browser` values (names and serialized values) one session holds; a
   * `set()` past it is a 413. Default 1048576 (1 MiB).
   */
  maxSessionBytes?: number;
  /**
   * CSRF defence, on by default (`{}`): unsafe requests (not GET, HEAD or OPTIONS) that a browser sent from another
   * origin are refused with 403 `code: 'csrf'`; with `token: true`, those that carry a session also need its token.
   * `false` turns it off. See {@link CsrfOptions}.
   */
  csrf?: false | CsrfOptions;
  /**
   * Lets members of `allow` groups act as another user (`SessionService.impersonate()`), for at most `maxDuration`
   * seconds. Absent (the default): `impersonate()` is refused with 403. See {@link ImpersonationOptions}.
   */
  impersonation?: ImpersonationOptions;
}

/** A policy with every default filled in and every value checked. */
export interface ResolvedSessionPolicy {
  readonly secrets: readonly string[];
  readonly cookie: {
    readonly name: string;
    readonly path: string;
    readonly domain: string | undefined;
    readonly sameSite: 'lax' | 'strict' | 'none';
    readonly secure: boolean | 'auto';
    readonly filter: ((name: string, value: string) => boolean) | undefined;
  };
  readonly idleTimeoutMs: number;
  readonly absoluteTimeoutMs: number;
  readonly anonymousIdleTimeoutMs: number;
  readonly anonymousMaxSessions: number;
  readonly anonymousMaxPerAddress: number;
  readonly maxSessionsPerUser: number;
  readonly groups: SessionPolicy['groups'];
  readonly check: SessionPolicy['check'];
  readonly bindIp: boolean;
  readonly denied: { readonly status: number; readonly headers: Readonly<Record<string, string>> } | undefined;
  readonly storeTimeoutMs: number;
  readonly processHeader: string;
  readonly noStore: boolean;
  readonly maxValueBytes: number;
  readonly maxSessionBytes: number;
  /** Undefined when `policy.csrf` is `false`. */
  readonly csrf: ResolvedCsrfOptions | undefined;
  /** Undefined when `policy.impersonation` is absent: impersonation is refused. */
  readonly impersonation: ResolvedImpersonationOptions | undefined;
}

/** Thrown at start-up for a policy that cannot work; the message names the option. */
export class SessionPolicyError extends Error {
  constructor(option: string, problem: string) {
    super(`nestjs-connected: policy option '${option}' ${problem}`);
    this.name = 'SessionPolicyError';
  }
}

/** RFC 6265 token characters: what a cookie name may be made of (no `;`, `,`, `=`, whitespace or controls). */
export const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const ATTRIBUTE_VALUE = /^[\x21-\x2b\x2d-\x3a\x3c-\x7e]+$/;
// Header names are tokens too.
const HEADER_NAME = COOKIE_NAME;

function seconds(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback * 1000;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new SessionPolicyError(option, `must be a positive finite number of seconds (got ${String(value)})`);
  }
  return Math.round(value * 1000);
}

function count(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new SessionPolicyError(option, `must be a positive integer (got ${String(value)})`);
  }
  return value;
}

function optionalFunction<T>(option: string, value: T | undefined): T | undefined {
  if (value !== undefined && typeof value !== 'function') throw new SessionPolicyError(option, 'must be a function');
  return value;
}

/** Checks a policy and fills in its defaults; throws {@link SessionPolicyError} naming the first bad option. */
export function resolveSessionPolicy(policy: SessionPolicy): ResolvedSessionPolicy {
  if (policy === null || typeof policy !== 'object') throw new SessionPolicyError('policy', 'must be an object');
  const secrets = typeof policy.secret === 'string' ? [policy.secret] : policy.secret;
  if (!Array.isArray(secrets) || secrets.length === 0) {
    throw new SessionPolicyError('secret', 'is required: a string of at least 32 characters, or a non-empty array of them');
  }
  secrets.forEach((secret, i) => {
    if (typeof secret !== 'string' || secret.length < 32) {
      throw new SessionPolicyError(secrets.length > 1 ? `secret[${i}]` : 'secret', 'must be at least 32 characters long');
    }
  });

  const cookie = policy.cookie ?? {};
  const name = cookie.name ?? 'sid';
  if (typeof name !== 'string' || !COOKIE_NAME.test(name)) {
    throw new SessionPolicyError('cookie.name', 'must be a cookie token: no ";", ",", "=", whitespace or control characters');
  }
  const path = cookie.path ?? '/';
  if (typeof path !== 'string' || !ATTRIBUTE_VALUE.test(path) || !path.startsWith('/')) {
    throw new SessionPolicyError('cookie.path', 'must start with "/" and contain no ";", ",", whitespace or control characters');
  }
  if (cookie.domain !== undefined && (typeof cookie.domain !== 'string' || !ATTRIBUTE_VALUE.test(cookie.domain))) {
    throw new SessionPolicyError('cookie.domain', 'must contain no ";", ",", whitespace or control characters');
  }
  const sameSite = cookie.sameSite ?? 'lax';
  if (sameSite !== 'lax' && sameSite !== 'strict' && sameSite !== 'none') {
    throw new SessionPolicyError('cookie.sameSite', "must be 'lax', 'strict' or 'none'");
  }
  const secure = cookie.secure ?? 'auto';
  if (secure !== true && secure !== false && secure !== 'auto') {
    throw new SessionPolicyError('cookie.secure', "must be true, false or 'auto'");
  }
  if (sameSite === 'none' && secure !== true) {
    throw new SessionPolicyError('cookie.sameSite', "'none' requires cookie.secure: true (browsers drop such cookies otherwise)");
  }

  const idleTimeoutMs = seconds('idleTimeout', policy.idleTimeout, 3600);
  const absoluteTimeoutMs = seconds('absoluteTimeout', policy.absoluteTimeout, 30 * 24 * 3600);
  const anonymousIdleTimeoutMs = seconds('anonymous.idleTimeout', policy.anonymous?.idleTimeout, 900);
  const storeTimeoutMs = policy.storeTimeout ?? 1000;
  if (typeof storeTimeoutMs !== 'number' || !Number.isFinite(storeTimeoutMs) || storeTimeoutMs <= 0) {
    throw new SessionPolicyError('storeTimeout', `must be a positive finite number of milliseconds (got ${String(storeTimeoutMs)})`);
  }

  let denied: ResolvedSessionPolicy['denied'];
  if (policy.denied !== undefined) {
    const { status, headers = {} } = policy.denied;
    if (!Number.isInteger(status) || status < 300 || status > 599) {
      throw new SessionPolicyError('denied.status', 'must be an HTTP status from 300 to 599');
    }
    for (const [header, value] of Object.entries(headers)) {
      if (!HEADER_NAME.test(header) || typeof value !== 'string' || /[\r\n\0]/.test(value)) {
        throw new SessionPolicyError(`denied.headers.${header}`, 'must be a valid header name and a value without CR, LF or NUL');
      }
    }
    denied = { status, headers: { ...headers } };
  }

  const processHeader = (policy.processHeader ?? 'x-process-id').toLowerCase();
  if (!HEADER_NAME.test(processHeader)) throw new SessionPolicyError('processHeader', 'must be a valid header name');
  const noStore = policy.noStore ?? true;
  if (typeof noStore !== 'boolean') throw new SessionPolicyError('noStore', 'must be true or false');

  return {
    secrets: [...secrets],
    cookie: {
      name,
      path,
      domain: cookie.domain,
      sameSite,
      secure,
      filter: optionalFunction('cookie.filter', cookie.filter),
    },
    idleTimeoutMs,
    absoluteTimeoutMs,
    anonymousIdleTimeoutMs,
    anonymousMaxSessions: count('anonymous.maxSessions', policy.anonymous?.maxSessions, 10_000),
    anonymousMaxPerAddress: count('anonymous.maxPerAddress', policy.anonymous?.maxPerAddress, 100),
    maxSessionsPerUser: count('maxSessionsPerUser', policy.maxSessionsPerUser, 50),
    groups: optionalFunction('groups', policy.groups),
    check: optionalFunction('check', policy.check),
    bindIp: policy.bindIp === true,
    denied,
    storeTimeoutMs,
    processHeader,
    noStore,
    maxValueBytes: count('maxValueBytes', policy.maxValueBytes, 64 * 1024),
    maxSessionBytes: count('maxSessionBytes', policy.maxSessionBytes, 1024 * 1024),
    csrf: resolveCsrfOptions(policy.csrf, (option, problem) => new SessionPolicyError(option, problem)),
    impersonation: resolveImpersonationOptions(policy.impersonation, (option, problem) => new SessionPolicyError(option, problem)),
  };
}
