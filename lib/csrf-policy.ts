import { originOf } from './util/origins.js';

/** The CSRF defence's options (`policy.csrf`); see the README, "Security model". */
export interface CsrfOptions {
  /**
   * Origins (`https://admin.example.com`) whose pages may send unsafe requests although the browser says they are
   * cross-origin. Trust them as you trust your own pages: any of them can act as the user. Default none.
   */
  trustedOrigins?: string[];
  /**
   * Also require the session's token (`SessionService.csrfToken()`) in {@link header} on every unsafe request that
   * carries a session. Default false.
   */
  token?: boolean;
  /** The request header that carries the token. Default `x-csrf-token`. */
  header?: string;
}

/** {@link CsrfOptions} checked, with defaults; `trustedOrigins` serialised as browsers send `Origin`. */
export interface ResolvedCsrfOptions {
  readonly trustedOrigins: readonly string[];
  readonly token: boolean;
  /** Lower case, as Node names request headers. */
  readonly header: string;
}

/** How the policy reports a bad value: the option's name and what is wrong with it. */
type Problem = (option: string, problem: string) => Error;

// RFC 7230 token characters.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Checks `policy.csrf` and fills in its defaults: undefined when it is `false` (off). Kept apart from the rest of
 * the policy, which passes `problem` to build its own start-up error.
 */
export function resolveCsrfOptions(csrf: false | CsrfOptions | undefined, problem: Problem): ResolvedCsrfOptions | undefined {
  if (csrf === false) return undefined;
  if (csrf !== undefined && (csrf === null || typeof csrf !== 'object' || Array.isArray(csrf))) {
    throw problem('csrf', 'must be false (off) or an object of options ({} is the default: on)');
  }
  const { trustedOrigins = [], token = false, header = 'x-csrf-token' } = csrf ?? {};
  if (!Array.isArray(trustedOrigins)) throw problem('csrf.trustedOrigins', 'must be a list of origins');
  const origins = trustedOrigins.map((entry: unknown, i) => {
    const origin = exactOrigin(entry);
    if (origin === undefined) {
      throw problem(
        `csrf.trustedOrigins[${i}]`,
        `must be an http(s) origin such as https://app.example.com (got ${JSON.stringify(entry)})`,
      );
    }
    return origin;
  });
  if (typeof token !== 'boolean') throw problem('csrf.token', 'must be true or false');
  if (typeof header !== 'string' || !HEADER_NAME.test(header)) throw problem('csrf.header', 'must be a valid header name');
  return { trustedOrigins: origins, token, header: header.toLowerCase() };
}

/** An origin exactly: a path, a query or credentials mean the entry was meant as something else. */
function exactOrigin(entry: unknown): string | undefined {
  const origin = originOf(entry);
  if (origin === undefined || origin === 'null') return undefined;
  const url = new URL(entry as string);
  return url.pathname === '/' && url.search === '' && url.hash === '' && url.username === '' && url.password === '' ? origin : undefined;
}
