import type { CookieAttributes, SessionTransport } from '../../../lib/context/session-transport.js';
import { resolveSessionPolicy, type SessionCookieOptions } from '../../../lib/session-policy.js';
import { parse } from 'cookie';
import { SessionCookie, type SessionCookieValue } from '../../../lib/session/session-cookie.js';

const SECRET = 'x'.repeat(32);

/** A transport as plain data: what the request said, and what the engine wrote on the answer. */
class FakeTransport implements SessionTransport {
  readonly kind = 'http' as const;
  readonly ip = '127.0.0.1';
  readonly method = 'GET';
  readonly ownOrigin = undefined;
  readonly set: Array<{ name: string; value: string; options: CookieAttributes }> = [];
  readonly cleared: Array<{ name: string; options: CookieAttributes }> = [];
  readonly responseHeaders = new Map<string, string>();

  refuse(code: string): Error {
    return new Error(code);
  }

  constructor(
    readonly headers: Record<string, string | string[] | undefined> = {},
    readonly secure = false,
    readonly canSetCookies = true,
  ) {}

  setCookie(name: string, value: string, options: CookieAttributes): void {
    this.set.push({ name, value, options });
  }

  clearCookie(name: string, options: CookieAttributes): void {
    this.cleared.push({ name, options });
  }

  setHeader(name: string, value: string): void {
    this.responseHeaders.set(name, value);
  }
}

/** The session cookie as the `cookie` package reads it: its first pair of that name, ambiguous when there are more. */
function referenceRead(header: string, name: string): SessionCookieValue {
  const value = parse(header)[name];
  if (value === undefined) return { kind: 'none' };
  const pairs = header.split(';').filter((pair) => pair.includes('=') && pair.slice(0, pair.indexOf('=')).trim() === name);
  return pairs.length > 1 ? { kind: 'ambiguous' } : { kind: 'one', value };
}

/** A small deterministic generator (mulberry32), so that a failing header is the same on every run. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function cookieOf(options: SessionCookieOptions = {}): SessionCookie {
  return new SessionCookie(resolveSessionPolicy({ secret: SECRET, cookie: options }));
}

function withCookie(header: string | string[] | undefined, secure = false): FakeTransport {
  return new FakeTransport(header === undefined ? {} : { cookie: header }, secure);
}

describe('SessionCookie', () => {
  describe('nameFor', () => {
    it('is the configured name over plain HTTP', () => {
      expect(cookieOf().nameFor(withCookie(undefined))).toBe('sid');
      expect(cookieOf({ name: 'app' }).nameFor(withCookie(undefined))).toBe('app');
    });

    it('has the __Host- prefix when Secure and host-only', () => {
      expect(cookieOf().nameFor(withCookie(undefined, true))).toBe('__Host-sid');
      expect(cookieOf({ secure: true }).nameFor(withCookie(undefined, false))).toBe('__Host-sid');
    });

    it('has no prefix with a Domain, a narrower Path, or secure: false', () => {
      const https = withCookie(undefined, true);
      expect(cookieOf({ domain: 'example.com' }).nameFor(https)).toBe('sid');
      expect(cookieOf({ path: '/app' }).nameFor(https)).toBe('sid');
      expect(cookieOf({ secure: false }).nameFor(https)).toBe('sid');
    });
  });

  describe('read', () => {
    const cookie = cookieOf();

    it('finds none without a Cookie header', () => {
      expect(cookie.read(withCookie(undefined))).toEqual({ kind: 'none' });
    });

    it('finds none when only other cookies are sent', () => {
      expect(cookie.read(withCookie('a=1; xsid=2; sidx=3'))).toEqual({ kind: 'none' });
      expect(cookie.read(withCookie(''))).toEqual({ kind: 'none' });
    });

    it('finds one among others', () => {
      expect(cookie.read(withCookie('a=1; sid=abc.def; b=2'))).toEqual({ kind: 'one', value: 'abc.def' });
      expect(cookie.read(withCookie('xsid=other; sid=mine'))).toEqual({ kind: 'one', value: 'mine' });
    });

    it.each([
      ['twice in one header', 'sid=a; sid=b'],
      ['twice without spaces', 'sid=a;sid=b'],
      ['twice with the same value', 'sid=a; x=1; sid=a'],
      ['twice with padding around the name', 'sid=a;  sid =b'],
    ])('calls the cookie ambiguous when it comes %s', (_, header) => {
      expect(cookie.read(withCookie(header))).toEqual({ kind: 'ambiguous' });
    });

    it('reads only the prefixed name over HTTPS, so a tossed plain cookie is not taken', () => {
      expect(cookie.read(withCookie('sid=tossed', true))).toEqual({ kind: 'none' });
      expect(cookie.read(withCookie('sid=tossed; __Host-sid=real', true))).toEqual({ kind: 'one', value: 'real' });
      expect(cookie.read(withCookie('__Host-sid=a; __Host-sid=b', true))).toEqual({ kind: 'ambiguous' });
    });

    it('is not confused by __proto__ or constructor cookie names', () => {
      expect(cookie.read(withCookie('__proto__=x; constructor=y'))).toEqual({ kind: 'none' });
      expect(cookie.read(withCookie('__proto__=x; sid=v; constructor=y'))).toEqual({ kind: 'one', value: 'v' });
      expect(cookieOf({ name: 'hasOwnProperty' }).read(withCookie('a=1'))).toEqual({ kind: 'none' });
    });

    it('keeps a badly percent-encoded value as it is instead of throwing', () => {
      // The raw text then fails signature verification like any other garbage.
      expect(cookie.read(withCookie('sid=%E0%A4%A'))).toEqual({ kind: 'one', value: '%E0%A4%A' });
      expect(cookie.read(withCookie('x=%; sid=ok'))).toEqual({ kind: 'one', value: 'ok' });
    });

    it('treats an oversized header as malformed without parsing it', () => {
      const header = `sid=v; pad=${'a'.repeat(17 * 1024)}`;
      expect(cookie.read(withCookie(header))).toEqual({ kind: 'malformed' });
    });

    it('joins array headers and still sees duplicates across them', () => {
      expect(cookie.read(withCookie(['a=1', 'sid=v']))).toEqual({ kind: 'one', value: 'v' });
      expect(cookie.read(withCookie(['sid=a', 'sid=b']))).toEqual({ kind: 'ambiguous' });
      expect(cookie.read(withCookie([]))).toEqual({ kind: 'none' });
    });

    it('treats array headers that add up past the limit as malformed', () => {
      const parts = Array.from({ length: 20 }, (_, i) => `c${i}=${'a'.repeat(1024)}`);
      expect(cookie.read(withCookie(['sid=v', ...parts]))).toEqual({ kind: 'malformed' });
    });

    it('reads a value padded with spaces and tabs, and a pair without = before it, as the cookie package does', () => {
      expect(cookie.read(withCookie('flag; \t sid \t= v \t; b=2'))).toEqual({ kind: 'one', value: 'v' });
      expect(cookie.read(withCookie('sid='))).toEqual({ kind: 'one', value: '' });
      expect(cookie.read(withCookie('a=sid=x'))).toEqual({ kind: 'none' });
      expect(cookie.read(withCookie('foo sid=x'))).toEqual({ kind: 'none' });
    });

    it('gives what the cookie package gives, pair by pair, on generated headers', () => {
      // The reader finds a lone name without the package; the package (with its first-pair-wins rule and a count of
      // the pairs of that name) stays the reference for every header.
      const random = seeded(15);
      const pieces = ['sid', '__Host-sid', 'sid', 'xsid', 'a', '=', '=', ';', '; ', ' ', '\t', '%41', '%', 'v.1', '"q"', '_'];
      let checked = 0;
      for (let i = 0; i < 20_000; i++) {
        const header = Array.from({ length: 1 + Math.floor(random() * 10) }, () => pieces[Math.floor(random() * pieces.length)]).join('');
        for (const secure of [false, true]) {
          const name = secure ? '__Host-sid' : 'sid';
          expect({ header, secure, read: cookie.read(withCookie(header, secure)) }).toEqual({
            header,
            secure,
            read: referenceRead(header, name),
          });
          checked++;
        }
      }
      expect(checked).toBe(40_000);
    });

    it('treats a header of an unexpected shape as malformed', () => {
      const odd = new FakeTransport({ cookie: [1, 2] as unknown as string[] });
      expect(cookie.read(odd)).toEqual({ kind: 'malformed' });
      const number = new FakeTransport({ cookie: 42 as unknown as string });
      expect(cookie.read(number)).toEqual({ kind: 'malformed' });
    });
  });

  describe('write', () => {
    it('sets HttpOnly, SameSite, Path and Max-Age in seconds, and Cache-Control: no-store', () => {
      const transport = withCookie(undefined);
      cookieOf({ sameSite: 'strict' }).write(transport, 'value', 90_500);
      expect(transport.set).toEqual([
        { name: 'sid', value: 'value', options: { path: '/', sameSite: 'strict', secure: false, httpOnly: true, maxAge: 90 } },
      ]);
      expect(transport.responseHeaders.get('cache-control')).toBe('no-store');
    });

    it('writes a browser-session cookie (no Max-Age) when no lifetime is given', () => {
      const transport = withCookie(undefined);
      cookieOf().write(transport, 'value', undefined);
      expect(transport.set).toHaveLength(1);
      expect(transport.set[0]!.options).not.toHaveProperty('maxAge');
      expect(transport.set[0]!.options.sameSite).toBe('lax');
    });

    it('never writes Max-Age=0 for a lifetime under a second', () => {
      const transport = withCookie(undefined);
      cookieOf().write(transport, 'value', 400);
      expect(transport.set[0]!.options.maxAge).toBe(1);
    });

    it.each([
      ['auto', false, false, 'sid'],
      ['auto', true, true, '__Host-sid'],
      [true, false, true, '__Host-sid'],
      [false, true, false, 'sid'],
    ] as const)('secure: %s over https=%s gives Secure=%s as %s', (secure, https, expected, name) => {
      const transport = withCookie(undefined, https);
      cookieOf({ secure }).write(transport, 'value', 1000);
      expect(transport.set[0]!.name).toBe(name);
      expect(transport.set[0]!.options.secure).toBe(expected);
    });

    it('adds Domain and Path only when configured', () => {
      const plain = withCookie(undefined);
      cookieOf().write(plain, 'v', 1000);
      expect(plain.set[0]!.options).not.toHaveProperty('domain');

      const scoped = withCookie(undefined);
      cookieOf({ domain: 'example.com', path: '/app' }).write(scoped, 'v', 1000);
      expect(scoped.set[0]!.options).toMatchObject({ domain: 'example.com', path: '/app' });
    });

    it('writes nothing where no response can carry a cookie', () => {
      const socket = new FakeTransport({}, false, false);
      const cookie = cookieOf();
      cookie.write(socket, 'v', 1000);
      cookie.clear(socket);
      cookie.clearAfterFailedCheck(socket);
      expect(socket.set).toEqual([]);
      expect(socket.cleared).toEqual([]);
      expect(socket.responseHeaders.size).toBe(0);
    });
  });

  describe('clear', () => {
    it('expires the cookie with the attributes it was set with, and sends no-store', () => {
      const transport = withCookie('sid=v', true);
      cookieOf({ sameSite: 'strict' }).clear(transport);
      expect(transport.cleared).toEqual([{ name: '__Host-sid', options: { path: '/', sameSite: 'strict', secure: true, httpOnly: true } }]);
      expect(transport.responseHeaders.get('cache-control')).toBe('no-store');
    });
  });

  describe('clearAfterFailedCheck', () => {
    const names = (transport: FakeTransport) => transport.cleared.map((entry) => entry.name).sort();

    it('expires only the session cookie without a filter', () => {
      const transport = withCookie('sid=bad; theme=dark; tracking=1');
      cookieOf().clearAfterFailedCheck(transport);
      expect(names(transport)).toEqual(['sid']);
      expect(transport.responseHeaders.get('cache-control')).toBe('no-store');
    });

    it('expires the cookies the filter rejects and keeps the ones it accepts', () => {
      const seen: Array<[string, string]> = [];
      const transport = withCookie('sid=bad; theme=dark; csrf=tok; cart=3');
      cookieOf({
        filter: (name, value) => {
          seen.push([name, value]);
          return name === 'theme';
        },
      }).clearAfterFailedCheck(transport);
      expect(names(transport)).toEqual(['cart', 'csrf', 'sid']);
      // The filter sees every other cookie with its value, never the session cookie.
      expect(seen.sort()).toEqual([
        ['cart', '3'],
        ['csrf', 'tok'],
        ['theme', 'dark'],
      ]);
    });

    it('treats a throwing filter as a rejection', () => {
      const transport = withCookie('sid=bad; keep=1; boom=1');
      cookieOf({
        filter: (name) => {
          if (name === 'boom') throw new Error('filter bug');
          return true;
        },
      }).clearAfterFailedCheck(transport);
      expect(names(transport)).toEqual(['boom', 'sid']);
    });

    it('keeps a cookie only for a literal true', () => {
      const transport = withCookie('sid=bad; a=1');
      cookieOf({ filter: () => 1 as unknown as boolean }).clearAfterFailedCheck(transport);
      expect(names(transport)).toEqual(['a', 'sid']);
    });

    it('handles __proto__ cookie names like any other', () => {
      const transport = withCookie('sid=bad; __proto__=x');
      cookieOf({ filter: () => false }).clearAfterFailedCheck(transport);
      expect(names(transport)).toEqual(['__proto__', 'sid']);
    });

    it('expires rejected cookies at the session path, and __Secure-/__Host- ones with the attributes browsers demand', () => {
      const transport = withCookie('sid=bad; plain=1; __Secure-pref=2; __Host-csrf=3');
      cookieOf({ path: '/app', filter: () => false }).clearAfterFailedCheck(transport);
      const byName = new Map(transport.cleared.map((entry) => [entry.name, entry.options]));
      expect(byName.get('plain')).toMatchObject({ path: '/app', secure: false, httpOnly: true });
      expect(byName.get('__Secure-pref')).toMatchObject({ path: '/app', secure: true });
      expect(byName.get('__Host-csrf')).toMatchObject({ path: '/', secure: true });
    });

    it('does not run the filter over an oversized header', () => {
      const calls: string[] = [];
      const transport = withCookie(`sid=bad; pad=${'a'.repeat(17 * 1024)}`);
      cookieOf({ filter: (name) => (calls.push(name), false) }).clearAfterFailedCheck(transport);
      expect(calls).toEqual([]);
      expect(names(transport)).toEqual(['sid']);
    });
  });
});
