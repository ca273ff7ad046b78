import { resolveSessionPolicy, SessionPolicyError, type SessionPolicy } from '../../lib/session-policy.js';

const SECRET = 's'.repeat(32);

function resolve(csrf: unknown) {
  return resolveSessionPolicy({ secret: SECRET, csrf } as SessionPolicy).csrf;
}

describe('policy.csrf', () => {
  it('is on by default: no trusted origin, no token, header x-csrf-token', () => {
    const expected = { trustedOrigins: [], token: false, header: 'x-csrf-token' };
    expect(resolveSessionPolicy({ secret: SECRET }).csrf).toEqual(expected);
    expect(resolve({})).toEqual(expected);
  });

  it('is off with false', () => {
    expect(resolve(false)).toBeUndefined();
  });

  it('keeps given values: origins as browsers serialise them, the header in lower case', () => {
    expect(
      resolve({
        trustedOrigins: ['https://Admin.Example.com/', 'http://a.example:8080', 'https://b.example:443'],
        token: true,
        header: 'X-XSRF-Token',
      }),
    ).toEqual({
      trustedOrigins: ['https://admin.example.com', 'http://a.example:8080', 'https://b.example'],
      token: true,
      header: 'x-xsrf-token',
    });
  });

  it.each([
    [true, 'csrf'],
    [null, 'csrf'],
    ['on', 'csrf'],
    [[], 'csrf'],
    [{ trustedOrigins: 'https://a.example' }, 'csrf.trustedOrigins'],
    [{ trustedOrigins: ['https://a.example', 'a.example'] }, 'csrf.trustedOrigins[1]'],
    [{ trustedOrigins: ['null'] }, 'csrf.trustedOrigins[0]'],
    [{ trustedOrigins: ['ftp://a.example'] }, 'csrf.trustedOrigins[0]'],
    [{ trustedOrigins: ['https://a.example/app'] }, 'csrf.trustedOrigins[0]'],
    [{ trustedOrigins: ['https://a.example/?x=1'] }, 'csrf.trustedOrigins[0]'],
    [{ trustedOrigins: ['https://user:pw@a.example'] }, 'csrf.trustedOrigins[0]'],
    [{ trustedOrigins: [42] }, 'csrf.trustedOrigins[0]'],
    [{ token: 'yes' }, 'csrf.token'],
    [{ header: 'x csrf' }, 'csrf.header'],
    [{ header: 'x-csrf:' }, 'csrf.header'],
    [{ header: '' }, 'csrf.header'],
    [{ header: 7 }, 'csrf.header'],
  ])('refuses %j with a SessionPolicyError naming %s', (csrf, option) => {
    let thrown: unknown;
    try {
      resolve(csrf);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SessionPolicyError);
    expect((thrown as Error).message).toContain(`nestjs-connected: policy option '${option}' `);
  });
});
