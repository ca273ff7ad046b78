import { CsrfTokens } from '../../../lib/session/csrf-tokens.js';
import { storeKeyOf, newSessionId } from '../../../lib/session/session-id.js';

const OLD = 'o'.repeat(32);
const NEW = 'n'.repeat(32);

describe('CsrfTokens', () => {
  const key = storeKeyOf(newSessionId());
  const tokens = new CsrfTokens([OLD]);

  it('issues masked tokens: every call another string of 86 base64url characters, all of them valid', () => {
    const issued = Array.from({ length: 20 }, () => tokens.issue(key));
    expect(new Set(issued).size).toBe(20);
    for (const token of issued) {
      expect(token).toMatch(/^[A-Za-z0-9_-]{86}$/);
      expect(tokens.verify(key, token)).toBe(true);
    }
  });

  it('binds a token to its session key', () => {
    const other = storeKeyOf(newSessionId());
    expect(tokens.verify(other, tokens.issue(key))).toBe(false);
    expect(tokens.verify(key, tokens.issue(other))).toBe(false);
  });

  it('gives, without a session, a token of the same shape that no session accepts', () => {
    const sessionless = tokens.issue(undefined);
    expect(sessionless).toMatch(/^[A-Za-z0-9_-]{86}$/);
    expect(tokens.verify(key, sessionless)).toBe(false);
  });

  it('refuses anything that is not exactly a token', () => {
    const token = tokens.issue(key);
    for (const given of [undefined, 42, [token], `${token}=`, ` ${token}`, token.slice(1), `${token}A`, token.replace(/.$/, '!')]) {
      expect(tokens.verify(key, given)).toBe(false);
    }
  });

  it('verifies against every secret (a rotation keeps open pages working) and issues with the first', () => {
    const rotated = new CsrfTokens([NEW, OLD]);
    expect(rotated.verify(key, tokens.issue(key))).toBe(true);
    expect(new CsrfTokens([NEW]).verify(key, tokens.issue(key))).toBe(false);
    expect(tokens.verify(key, rotated.issue(key))).toBe(false);
  });

  it('needs a secret', () => {
    expect(() => new CsrfTokens([])).toThrow('CsrfTokens needs at least one secret');
  });
});
