import { isSessionIdShape, newSessionId, SESSION_ID_LENGTH, storeKeyOf } from '../../../lib/session/session-id.js';

const BASE64URL = /^[A-Za-z0-9_-]+$/;

describe('newSessionId', () => {
  it('is 43 base64url characters', () => {
    const id = newSessionId();
    expect(SESSION_ID_LENGTH).toBe(43);
    expect(id).toHaveLength(43);
    expect(id).toMatch(BASE64URL);
    expect(isSessionIdShape(id)).toBe(true);
  });

  it('carries 32 bytes, spelled canonically', () => {
    const id = newSessionId();
    const bytes = Buffer.from(id, 'base64url');
    expect(bytes).toHaveLength(32);
    expect(bytes.toString('base64url')).toBe(id);
  });

  it('never repeats over many draws', () => {
    const ids = new Set(Array.from({ length: 5000 }, () => newSessionId()));
    expect(ids.size).toBe(5000);
  });

  it('uses the whole byte range (not a constant or a counter)', () => {
    // Over 200 ids, every byte position must take several values; a counter or a fixed prefix would not.
    const draws = Array.from({ length: 200 }, () => Buffer.from(newSessionId(), 'base64url'));
    for (let position = 0; position < 32; position++) {
      const seen = new Set(draws.map((bytes) => bytes[position]));
      expect(seen.size).toBeGreaterThan(50);
    }
  });
});

describe('isSessionIdShape', () => {
  it.each([
    ['too short', 'a'.repeat(42)],
    ['too long', 'a'.repeat(44)],
    ['standard base64 characters', `${'a'.repeat(41)}+/`],
    ['padding', `${'a'.repeat(42)}=`],
    ['a dot', `${'a'.repeat(42)}.`],
    ['empty', ''],
  ])('rejects %s', (_, text) => {
    expect(isSessionIdShape(text)).toBe(false);
  });
});

describe('storeKeyOf', () => {
  it('is the base64url SHA-256 of the id', () => {
    // Known answer: SHA-256("abc") = ba7816bf 8f01cfea 414140de 5dae2223 b00361a3 96177a9c b410ff61 f20015ad.
    expect(storeKeyOf('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
  });

  it('is never the id itself, and is stable per id', () => {
    const id = newSessionId();
    expect(storeKeyOf(id)).not.toBe(id);
    expect(storeKeyOf(id)).not.toContain(id);
    expect(storeKeyOf(id)).toBe(storeKeyOf(id));
    expect(storeKeyOf(id)).toHaveLength(43);
  });

  it('gives distinct ids distinct keys', () => {
    const a = newSessionId();
    const b = newSessionId();
    expect(storeKeyOf(a)).not.toBe(storeKeyOf(b));
  });
});
