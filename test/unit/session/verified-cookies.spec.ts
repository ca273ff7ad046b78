import { newSessionId, storeKeyOf } from '../../../lib/session/session-id.js';
import { SessionSigner } from '../../../lib/session/session-signer.js';
import { VerifiedCookies } from '../../../lib/session/verified-cookies.js';

const signer = new SessionSigner(['a-test-secret-that-is-long-enough-0123456789']);

/** A signed cookie value for a new id (or `id`), as the opener issues it. */
function issue(id = newSessionId()): { value: string; key: string } {
  return { value: signer.sign(id), key: storeKeyOf(id) };
}

/** What the resolver does on a miss: verify, then remember. */
function verifyAndRemember(cache: VerifiedCookies, value: string): string | undefined {
  const id = signer.unsign(value);
  if (id === undefined) return undefined;
  cache.remember(value, storeKeyOf(id));
  return storeKeyOf(id);
}

/** `text` with the character at `index` replaced by another base64url character. */
function flip(text: string, index: number): string {
  const c = text[index] === 'A' ? 'B' : 'A';
  return text.slice(0, index) + c + text.slice(index + 1);
}

describe('VerifiedCookies', () => {
  it('gives back the exact store key of a value that verified, and nothing for one never seen', () => {
    const cache = new VerifiedCookies(10);
    const { value, key } = issue();
    expect(cache.keyOf(value)).toBeUndefined();
    expect(verifyAndRemember(cache, value)).toBe(key);
    expect(cache.keyOf(value)).toBe(key);
    expect(cache.keyOf(issue().value)).toBeUndefined();
  });

  it('refuses a forged tag for a cached id, at every position, and the HMAC refuses it too', () => {
    const cache = new VerifiedCookies(10);
    const { value } = issue();
    verifyAndRemember(cache, value);
    const [id, tag] = value.split('.');
    const forgeries = [`${id}.${newSessionId()}`];
    for (let i = 0; i < tag.length; i++) forgeries.push(`${id}.${flip(tag, i)}`);
    for (const forged of forgeries) {
      expect(cache.keyOf(forged)).toBeUndefined();
      expect(signer.unsign(forged)).toBeUndefined();
    }
    // The genuine value is still known.
    expect(cache.keyOf(value)).toBe(storeKeyOf(id));
  });

  it('refuses another spelling of the same tag bytes (the last character has two unused bits)', () => {
    const cache = new VerifiedCookies(10);
    const { value } = issue();
    verifyAndRemember(cache, value);
    const last = value.charCodeAt(value.length - 1);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sixtet = alphabet.indexOf(String.fromCharCode(last));
    const respelled = value.slice(0, -1) + alphabet[sixtet ^ 1];
    expect(Buffer.from(respelled.split('.')[1], 'base64url')).toEqual(Buffer.from(value.split('.')[1], 'base64url'));
    expect(cache.keyOf(respelled)).toBeUndefined();
    expect(signer.unsign(respelled)).toBeUndefined();
  });

  it('refuses a value with the id changed, the dot moved or other characters, and never throws', () => {
    const cache = new VerifiedCookies(10);
    const { value } = issue();
    verifyAndRemember(cache, value);
    for (const other of [
      flip(value, 0),
      flip(value, 20),
      flip(value, 42),
      `${value.slice(0, 43)}x${value.slice(44)}`,
      `\u00e9${value.slice(1)}`,
      `${value.slice(0, 86)}\u0141`,
      value.slice(1),
      `${value}A`,
      '',
    ]) {
      expect(cache.keyOf(other)).toBeUndefined();
    }
  });

  it('never answers with the key of another id that shares the map key (the first five characters)', () => {
    const cache = new VerifiedCookies(10);
    const first = issue();
    const other = newSessionId();
    const second = issue(first.value.slice(0, 5) + other.slice(5));
    verifyAndRemember(cache, first.value);
    expect(cache.keyOf(second.value)).toBeUndefined();
    verifyAndRemember(cache, second.value);
    expect(cache.keyOf(second.value)).toBe(second.key);
    // They take turns: the first is a miss now (verified again on its next visit), never the second's key.
    expect(cache.keyOf(first.value)).toBeUndefined();
    expect(cache.size).toBe(1);
  });

  it('keeps the newest values past its capacity and forgets the oldest, through growth and many evictions', () => {
    const cache = new VerifiedCookies(1000);
    const issued = Array.from({ length: 3000 }, () => issue());
    for (const { value } of issued) verifyAndRemember(cache, value);
    expect(cache.size).toBeLessThanOrEqual(1000);
    const kept = issued.slice(-900).filter(({ value, key }) => cache.keyOf(value) === key).length;
    // Only map-key collisions (30 bits: about one in a million pairs) may have cost a recent entry.
    expect(kept).toBeGreaterThanOrEqual(899);
    expect(issued.slice(0, 1000).some(({ value }) => cache.keyOf(value) !== undefined)).toBe(false);
    for (const { value, key } of issued.slice(-900)) expect([undefined, key]).toContain(cache.keyOf(value));
  });

  it('remembers nothing for a value that is not shaped as a signed cookie', () => {
    const cache = new VerifiedCookies(10);
    const { value, key } = issue();
    cache.remember(value.replace('.', '!'), key);
    cache.remember(`!${value.slice(1)}`, key);
    expect(cache.size).toBe(0);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new VerifiedCookies(0)).toThrow('capacity must be a positive integer');
    expect(() => new VerifiedCookies(1.5)).toThrow('capacity must be a positive integer');
  });
});
