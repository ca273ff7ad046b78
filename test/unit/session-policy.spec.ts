import { resolveSessionPolicy, SessionPolicyError, type SessionPolicy } from '../../lib/session-policy.js';

const SECRET = 's'.repeat(32);

function resolve(policy: Partial<SessionPolicy>) {
  return resolveSessionPolicy({ secret: SECRET, ...policy } as SessionPolicy);
}

/** Expects a SessionPolicyError that names exactly `option`. */
function expectRejected(policy: Partial<SessionPolicy>, option: string): void {
  let thrown: unknown;
  try {
    resolve(policy);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(SessionPolicyError);
  expect((thrown as Error).message).toContain(`policy option '${option}'`);
}

describe('resolveSessionPolicy', () => {
  describe('defaults', () => {
    const resolved = resolveSessionPolicy({ secret: SECRET });

    it('fills in timeouts and bounds', () => {
      expect(resolved.idleTimeoutMs).toBe(3600 * 1000);
      expect(resolved.absoluteTimeoutMs).toBe(30 * 24 * 3600 * 1000);
      expect(resolved.storeTimeoutMs).toBe(1000);
      expect(resolved.maxSessionsPerUser).toBe(50);
      expect(resolved.anonymousIdleTimeoutMs).toBe(900 * 1000);
      expect(resolved.anonymousMaxSessions).toBe(10_000);
      expect(resolved.anonymousMaxPerAddress).toBe(100);
    });

    it('fills in the cookie', () => {
      expect(resolved.cookie).toEqual({ name: 'sid', path: '/', domain: undefined, sameSite: 'lax', secure: 'auto', filter: undefined });
    });

    it('fills in the rest', () => {
      expect(resolved.secrets).toEqual([SECRET]);
      expect(resolved.bindIp).toBe(false);
      expect(resolved.denied).toBeUndefined();
      expect(resolved.processHeader).toBe('x-process-id');
      expect(resolved.noStore).toBe(true);
    });
  });

  it('keeps given values, converting seconds to milliseconds', () => {
    const resolved = resolve({
      idleTimeout: 60,
      absoluteTimeout: 0.5,
      storeTimeout: 250,
      maxSessionsPerUser: 3,
      anonymous: { idleTimeout: 30, maxSessions: 7, maxPerAddress: 3 },
      cookie: { name: 'app', path: '/api', domain: 'example.com', sameSite: 'strict', secure: false },
      bindIp: true,
      processHeader: 'X-Tab',
    });
    expect(resolved).toMatchObject({
      idleTimeoutMs: 60_000,
      absoluteTimeoutMs: 500,
      storeTimeoutMs: 250,
      maxSessionsPerUser: 3,
      anonymousIdleTimeoutMs: 30_000,
      anonymousMaxSessions: 7,
      anonymousMaxPerAddress: 3,
      bindIp: true,
      processHeader: 'x-tab',
    });
    expect(resolved.cookie).toMatchObject({ name: 'app', path: '/api', domain: 'example.com', sameSite: 'strict', secure: false });
  });

  it('fills in the value size limits and takes positive integers only', () => {
    expect(resolve({})).toMatchObject({ maxValueBytes: 65_536, maxSessionBytes: 1_048_576 });
    expect(resolve({ maxValueBytes: 10, maxSessionBytes: 20 })).toMatchObject({ maxValueBytes: 10, maxSessionBytes: 20 });
    expectRejected({ maxValueBytes: 0 }, 'maxValueBytes');
    expectRejected({ maxSessionBytes: 1.5 }, 'maxSessionBytes');
  });

  it('takes noStore as a boolean only', () => {
    expect(resolve({ noStore: false }).noStore).toBe(false);
    expectRejected({ noStore: 'no' as unknown as boolean }, 'noStore');
  });

  it('copies the secrets, so that later changes to the array do not leak in', () => {
    const secrets = [SECRET, 't'.repeat(40)];
    const resolved = resolve({ secret: secrets });
    secrets.push('u'.repeat(40));
    expect(resolved.secrets).toEqual([SECRET, 't'.repeat(40)]);
  });

  describe('secret', () => {
    it('is required', () => {
      expectRejected({ secret: undefined }, 'secret');
      expectRejected({ secret: [] }, 'secret');
    });

    it('must be at least 32 characters', () => {
      expectRejected({ secret: 's'.repeat(31) }, 'secret');
      expect(resolve({ secret: 's'.repeat(32) }).secrets).toHaveLength(1);
    });

    it('names the short entry of an array', () => {
      expectRejected({ secret: [SECRET, 'short'] }, 'secret[1]');
      expectRejected({ secret: ['short', SECRET] }, 'secret[0]');
    });

    it('rejects non-string entries', () => {
      expectRejected({ secret: [SECRET, 42 as unknown as string] }, 'secret[1]');
    });
  });

  describe('timeouts', () => {
    const bad = [
      ['negative', -1],
      ['zero', 0],
      ['NaN', Number.NaN],
      ['Infinity', Number.POSITIVE_INFINITY],
      ['a string', '60' as unknown as number],
    ] as const;

    it.each(bad)('idleTimeout %s names the option', (_, value) => expectRejected({ idleTimeout: value }, 'idleTimeout'));
    it.each(bad)('absoluteTimeout %s names the option', (_, value) => expectRejected({ absoluteTimeout: value }, 'absoluteTimeout'));
    it.each(bad)('anonymous.idleTimeout %s names the option', (_, value) =>
      expectRejected({ anonymous: { idleTimeout: value } }, 'anonymous.idleTimeout'),
    );
    it.each(bad)('storeTimeout %s names the option', (_, value) => expectRejected({ storeTimeout: value }, 'storeTimeout'));
  });

  describe('counts', () => {
    it.each([[0], [-1], [1.5], [Number.NaN], [Number.POSITIVE_INFINITY]])('maxSessionsPerUser %p names the option', (value) => {
      expectRejected({ maxSessionsPerUser: value }, 'maxSessionsPerUser');
    });

    it.each([[0], [2.5]])('anonymous.maxSessions %p names the option', (value) => {
      expectRejected({ anonymous: { maxSessions: value } }, 'anonymous.maxSessions');
    });

    it.each([[0], [-1], [2.5], [Number.NaN], [Number.POSITIVE_INFINITY], ['100' as unknown as number]])(
      'anonymous.maxPerAddress %p names the option',
      (value) => {
        expectRejected({ anonymous: { maxPerAddress: value } }, 'anonymous.maxPerAddress');
      },
    );
  });

  describe('cookie', () => {
    const unsafe = [
      ['a semicolon', 'a;b'],
      ['a comma', 'a,b'],
      ['a space', 'a b'],
      ['a tab', 'a\tb'],
      ['a newline', 'a\nb'],
      ['a NUL', 'a\0b'],
      ['DEL', 'a\x7fb'],
      ['non-ASCII', 'aéb'],
    ] as const;

    it.each(unsafe)('name with %s is rejected as cookie.name', (_, text) => expectRejected({ cookie: { name: text } }, 'cookie.name'));
    it.each(unsafe)('path with %s is rejected as cookie.path', (_, text) =>
      expectRejected({ cookie: { path: `/${text}` } }, 'cookie.path'),
    );
    it.each(unsafe)('domain with %s is rejected as cookie.domain', (_, text) =>
      expectRejected({ cookie: { domain: `example${text}.com` } }, 'cookie.domain'),
    );

    it('rejects a name with "=" and an empty name', () => {
      expectRejected({ cookie: { name: 'a=b' } }, 'cookie.name');
      expectRejected({ cookie: { name: '' } }, 'cookie.name');
    });

    it('rejects a path that does not start with "/"', () => {
      expectRejected({ cookie: { path: 'app' } }, 'cookie.path');
    });

    it("rejects sameSite 'none' without secure: true", () => {
      expectRejected({ cookie: { sameSite: 'none' } }, 'cookie.sameSite');
      expectRejected({ cookie: { sameSite: 'none', secure: 'auto' } }, 'cookie.sameSite');
      expectRejected({ cookie: { sameSite: 'none', secure: false } }, 'cookie.sameSite');
      expect(resolve({ cookie: { sameSite: 'none', secure: true } }).cookie.sameSite).toBe('none');
    });

    it('rejects unknown sameSite and secure values', () => {
      expectRejected({ cookie: { sameSite: 'Lax' as 'lax' } }, 'cookie.sameSite');
      expectRejected({ cookie: { secure: 'yes' as unknown as boolean } }, 'cookie.secure');
    });

    it('requires filter to be a function', () => {
      expectRejected({ cookie: { filter: 'theme' as unknown as () => boolean } }, 'cookie.filter');
    });
  });

  describe('denied', () => {
    it('keeps a valid redirect', () => {
      const resolved = resolve({ denied: { status: 302, headers: { Location: '/login' } } });
      expect(resolved.denied).toEqual({ status: 302, headers: { Location: '/login' } });
    });

    it.each([[200], [99], [600], [302.5]])('rejects status %p', (status) => {
      expectRejected({ denied: { status } }, 'denied.status');
    });

    it('rejects header values that could split the response', () => {
      expectRejected({ denied: { status: 302, headers: { Location: '/login\r\nSet-Cookie: x=1' } } }, 'denied.headers.Location');
      expectRejected({ denied: { status: 302, headers: { 'Bad Name': 'x' } } }, 'denied.headers.Bad Name');
    });
  });

  it('requires groups and check to be functions', () => {
    expectRejected({ groups: [] as unknown as () => string[] }, 'groups');
    expectRejected({ check: true as unknown as () => boolean }, 'check');
  });

  it('rejects a policy that is not an object', () => {
    expect(() => resolveSessionPolicy(null as unknown as SessionPolicy)).toThrow(SessionPolicyError);
  });
});

describe('policy.impersonation', () => {
  it('is off by default', () => {
    expect(resolve({}).impersonation).toBeUndefined();
  });

  it('fills in deny and maxDuration (3600 s)', () => {
    expect(resolve({ impersonation: { allow: ['support'] } }).impersonation).toEqual({
      allow: ['support'],
      deny: [],
      maxDurationMs: 3_600_000,
    });
    expect(resolve({ impersonation: { allow: ['support'], deny: ['admin'], maxDuration: 1.5 } }).impersonation).toEqual({
      allow: ['support'],
      deny: ['admin'],
      maxDurationMs: 1500,
    });
  });

  it.each([
    ['an empty allow', { allow: [] }, 'impersonation.allow'],
    ['a missing allow', {}, 'impersonation.allow'],
    ['an allow of non-strings', { allow: [1] }, 'impersonation.allow'],
    ['an empty group name', { allow: [''] }, 'impersonation.allow'],
    ['a deny that is not a list', { allow: ['support'], deny: 'admin' }, 'impersonation.deny'],
    ['a zero maxDuration', { allow: ['support'], maxDuration: 0 }, 'impersonation.maxDuration'],
    ['a negative maxDuration', { allow: ['support'], maxDuration: -1 }, 'impersonation.maxDuration'],
    ['an infinite maxDuration', { allow: ['support'], maxDuration: Number.POSITIVE_INFINITY }, 'impersonation.maxDuration'],
    ['a string maxDuration', { allow: ['support'], maxDuration: '60' }, 'impersonation.maxDuration'],
    ['a list', [], 'impersonation'],
    ['null', null, 'impersonation'],
  ])('refuses %s at start-up', (_, impersonation, option) => {
    expectRejected({ impersonation: impersonation as never }, option);
  });
});
