import { newSessionId, storeKeyOf } from '../../../lib/session/session-id.js';
import { SessionSigner } from '../../../lib/session/session-signer.js';
import { VERIFIED_COOKIE_WORDS, VerifiedCookies } from '../../../lib/session/verified-cookies.js';

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

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** `text` with the character at `index` replaced by another base64url character. */
function flip(text: string, index: number): string {
  const c = text[index] === 'A' ? 'B' : 'A';
  return text.slice(0, index) + c + text.slice(index + 1);
}

/** The decoded id and tag of a signed value. */
function bytesOf(value: string): { id: Buffer; tag: Buffer } {
  const [id, tag] = value.split('.');
  return { id: Buffer.from(id, 'base64url'), tag: Buffer.from(tag, 'base64url') };
}

/** The canonical value of these id and tag bytes. */
function valueOf(id: Buffer, tag: Buffer): string {
  return `${id.toString('base64url')}.${tag.toString('base64url')}`;
}

/** `bytes` with bit `bit` (0 the highest of the first byte) flipped. */
function flipBit(bytes: Buffer, bit: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[bit >> 3] ^= 0x80 >> (bit & 7);
  return copy;
}

/** Bytes kept of each part: a hit needs the first 16 of the id and the last 16 of the tag. */
const KEPT_BYTES = 16;
/** Where the tag's kept bytes start. */
const TAG_KEPT = 32 - KEPT_BYTES;

/**
 * Whether `other` (base64url characters only, 87 of them, the dot at 43) should hit the entry of `value`: it is
 * canonical and spells the same first 16 bytes of the id and last 16 of the tag.
 */
function shouldHit(value: string, other: string): boolean {
  const [id, tag] = other.split('.');
  const canonical =
    Buffer.from(id, 'base64url').toString('base64url') === id && Buffer.from(tag, 'base64url').toString('base64url') === tag;
  const mine = bytesOf(value);
  const theirs = bytesOf(other);
  return (
    canonical &&
    theirs.id.subarray(0, KEPT_BYTES).equals(mine.id.subarray(0, KEPT_BYTES)) &&
    theirs.tag.subarray(TAG_KEPT).equals(mine.tag.subarray(TAG_KEPT))
  );
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

  it('refuses a forged tag for a cached id, at every character that spells its last 16 bytes, and the HMAC refuses it too', () => {
    const cache = new VerifiedCookies(10);
    const { value } = issue();
    verifyAndRemember(cache, value);
    const [id, tag] = value.split('.');
    const forgeries = [`${id}.${newSessionId()}`];
    // Characters 22-42 spell bits 132-255 of the tag; character 21 is checked bit by bit below.
    for (let i = 22; i <= 42; i++) forgeries.push(`${id}.${flip(tag, i)}`);
    for (const forged of forgeries) {
      expect(cache.keyOf(forged)).toBeUndefined();
      expect(signer.unsign(forged)).toBeUndefined();
    }
    // The genuine value is still known.
    expect(cache.keyOf(value)).toBe(storeKeyOf(id));
  });

  it('refuses a value with any one of the first 128 bits of its id or the last 128 of its tag flipped, and the HMAC refuses it too', () => {
    const cache = new VerifiedCookies(10);
    const { value, key } = issue();
    verifyAndRemember(cache, value);
    const { id, tag } = bytesOf(value);
    for (let bit = 0; bit < 8 * KEPT_BYTES; bit++) {
      for (const forged of [valueOf(flipBit(id, bit), tag), valueOf(id, flipBit(tag, 8 * TAG_KEPT + bit))]) {
        expect(cache.keyOf(forged)).toBeUndefined();
        expect(signer.unsign(forged)).toBeUndefined();
      }
    }
    expect(cache.keyOf(value)).toBe(key);
  });

  it("accepts a value that differs from a verified one only in its id's last 16 bytes or its tag's first 16 (the accepted truncation)", () => {
    // The HMAC refuses these values, but only a holder of the verified cookie can make them: they share its first
    // 128 bits of id and its last 128 of tag. The hit answers with the key of the value that verified.
    const cache = new VerifiedCookies(10);
    const { value, key } = issue();
    verifyAndRemember(cache, value);
    const { id, tag } = bytesOf(value);
    for (let bit = 0; bit < 8 * KEPT_BYTES; bit++) {
      for (const truncated of [valueOf(id, flipBit(tag, bit)), valueOf(flipBit(id, 8 * KEPT_BYTES + bit), tag)]) {
        expect(signer.unsign(truncated)).toBeUndefined();
        expect(cache.keyOf(truncated)).toBe(key);
      }
    }
    const tail = Buffer.alloc(32 - KEPT_BYTES, 0x5a);
    const bothUnkept = valueOf(Buffer.concat([id.subarray(0, KEPT_BYTES), tail]), Buffer.concat([tail, tag.subarray(TAG_KEPT)]));
    expect(cache.keyOf(bothUnkept)).toBe(key);
  });

  it('needs both ends of the value: no prefix or suffix of it short of the whole, with the rest guessed, hits', () => {
    // A log that cuts cookie values short keeps a prefix (or a suffix): with the rest of it made up, it must miss.
    const cache = new VerifiedCookies(10);
    const { value, key } = issue();
    verifyAndRemember(cache, value);
    const made = issue().value;
    for (let length = 1; length < value.length; length++) {
      const fromPrefix = value.slice(0, length) + made.slice(length);
      const fromSuffix = made.slice(0, value.length - length) + value.slice(value.length - length);
      for (const guess of [fromPrefix, fromSuffix]) {
        if (guess === value) continue;
        expect(cache.keyOf(guess)).toBeUndefined();
      }
    }
    expect(cache.keyOf(value)).toBe(key);
  });

  it('keeps 8 words (32 bytes) of each value', () => {
    expect(VERIFIED_COOKIE_WORDS).toBe(8);
  });

  it('refuses every other spelling of the same id bytes and of the same tag bytes (two unused bits each)', () => {
    const cache = new VerifiedCookies(10);
    const { value, key } = issue();
    verifyAndRemember(cache, value);
    for (const last of [42, 86]) {
      const sixtet = BASE64URL.indexOf(value[last]);
      for (const unused of [1, 2, 3]) {
        const respelled = value.slice(0, last) + BASE64URL[sixtet ^ unused] + value.slice(last + 1);
        const [id, tag] = value.split('.');
        const [otherId, otherTag] = respelled.split('.');
        expect(Buffer.from(otherId, 'base64url')).toEqual(Buffer.from(id, 'base64url'));
        expect(Buffer.from(otherTag, 'base64url')).toEqual(Buffer.from(tag, 'base64url'));
        expect(cache.keyOf(respelled)).toBeUndefined();
        expect(signer.unsign(respelled)).toBeUndefined();
      }
    }
    expect(cache.keyOf(value)).toBe(key);
  });

  it('refuses a tag forged for a cached id with any of its last 16 bytes changed, and accepts a change before them', () => {
    const cache = new VerifiedCookies(10);
    const { value, key } = issue();
    verifyAndRemember(cache, value);
    const [id, tag] = value.split('.');
    const bytes = Buffer.from(tag, 'base64url');
    for (let at = 0; at < 32; at++) {
      for (const change of [0x01, 0x10, 0x80, 0xff]) {
        const forged = Buffer.from(bytes);
        forged[at] ^= change;
        const forgedValue = `${id}.${forged.toString('base64url')}`;
        expect(cache.keyOf(forgedValue)).toBe(at >= TAG_KEPT ? undefined : key);
        expect(signer.unsign(forgedValue)).toBeUndefined();
      }
    }
    expect(cache.keyOf(value)).toBe(key);
  });

  it('answers every other base64url character at every position by the kept bits and canonical spelling alone', () => {
    const cache = new VerifiedCookies(10);
    const { value, key } = issue();
    verifyAndRemember(cache, value);
    let tried = 0;
    let hits = 0;
    for (let at = 0; at < value.length; at++) {
      if (at === 43) continue;
      for (const c of BASE64URL) {
        if (c === value[at]) continue;
        const other = value.slice(0, at) + c + value.slice(at + 1);
        const hit = shouldHit(value, other);
        expect(cache.keyOf(other)).toBe(hit ? key : undefined);
        // A hit is only ever a change past the id's 21st character (past its 128th bit) or before the tag's 22nd.
        if (hit && at < 43) expect(at).toBeGreaterThanOrEqual(21);
        if (hit && at > 43) expect(at - 44).toBeLessThanOrEqual(21);
        tried++;
        if (hit) hits++;
      }
    }
    expect(tried).toBe(86 * 63);
    // The id: character 21 keeps 2 of its 6 bits (15 others hit), 20 characters wholly past (63 each), and the
    // last one's 16 canonical characters (15 others). The tag: 21 characters wholly before its kept bytes (63 each)
    // and character 21, which keeps 4 of its 6 bits (3 others hit).
    expect(hits).toBe(15 + 20 * 63 + 15 + (21 * 63 + 3));
    expect(cache.keyOf(value)).toBe(key);
  });

  it('refuses a character outside base64url anywhere, including ones that alias a valid one in 7 bits', () => {
    const cache = new VerifiedCookies(10);
    const { value, key } = issue();
    verifyAndRemember(cache, value);
    for (let at = 0; at < value.length; at++) {
      const code = value.charCodeAt(at);
      const others = ['+', '/', '=', '.', ' ', '%', '\0', '\x7f', '\u00e9', '\ud83d', '\uffff'];
      // The same character in the low 7 bits: a table look-up on those bits alone would take it for the original.
      others.push(String.fromCharCode(code + 0x80), String.fromCharCode(code + 0x100), String.fromCharCode(code + 0xff00));
      for (const c of others) {
        if (c === value[at]) continue;
        const other = value.slice(0, at) + c + value.slice(at + 1);
        expect(cache.keyOf(other)).toBeUndefined();
        cache.remember(other, 'must-not-be-kept');
      }
    }
    expect(cache.size).toBe(1);
    expect(cache.keyOf(value)).toBe(key);
  });

  it('refuses a value of another length or without its dot at 43, and remembers none of them', () => {
    const cache = new VerifiedCookies(10);
    const { value, key } = issue();
    verifyAndRemember(cache, value);
    const [id, tag] = value.split('.');
    const shapes = [
      value.slice(0, -1),
      `${value}A`,
      `${value}.`,
      `A${value}`,
      `${id}${tag}`,
      `${id}${tag}A`,
      `${id.slice(0, 42)}.${id[42]}${tag}`,
      `${id}${tag[0]}.${tag.slice(1)}`,
      `${id}.${tag}.`,
      `${id}..${tag.slice(1)}`,
      id,
      tag,
      '',
    ];
    for (const shape of shapes) {
      expect(cache.keyOf(shape)).toBeUndefined();
      cache.remember(shape, 'must-not-be-kept');
    }
    expect(cache.size).toBe(1);
    expect(cache.keyOf(value)).toBe(key);
  });

  it('refuses a value with the id changed, the dot moved or other characters, and never throws', () => {
    const cache = new VerifiedCookies(10);
    const { value } = issue();
    verifyAndRemember(cache, value);
    for (const other of [
      flip(value, 0),
      flip(value, 20),
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

  it('never answers with the key of another id that shares the map key (the first 32 bits of the id)', () => {
    const cache = new VerifiedCookies(10);
    const first = issue();
    const other = newSessionId();
    const second = issue(first.value.slice(0, 6) + other.slice(6));
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
    // Only map-key collisions (32 bits: about one in four billion pairs) may have cost a recent entry.
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
