import { randomBytes } from 'node:crypto';
import { SignedValueDecoder } from '../../../lib/session/signed-value-decoder.js';

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The canonical value of these 32 + 32 bytes. */
function valueOf(id: Buffer, tag: Buffer): string {
  return `${id.toString('base64url')}.${tag.toString('base64url')}`;
}

/** The 16 words the decoder should give: the 64 bytes read four at a time, first byte highest. */
function wordsOf(id: Buffer, tag: Buffer): number[] {
  const bytes = Buffer.concat([id, tag]);
  return Array.from({ length: 16 }, (_, i) => bytes.readInt32BE(4 * i));
}

describe('SignedValueDecoder', () => {
  it('decodes canonical values to exactly the bytes they spell, extremes included', () => {
    const decoder = new SignedValueDecoder();
    const cases: Array<[Buffer, Buffer]> = [
      [Buffer.alloc(32), Buffer.alloc(32)],
      [Buffer.alloc(32, 0xff), Buffer.alloc(32, 0xff)],
      [Buffer.alloc(32, 0xaa), Buffer.alloc(32, 0x55)],
    ];
    for (let i = 0; i < 2000; i++) cases.push([randomBytes(32), randomBytes(32)]);
    for (const [id, tag] of cases) {
      expect(decoder.decode(valueOf(id, tag))).toBe(true);
      expect(Array.from(decoder.words)).toEqual(wordsOf(id, tag));
    }
  });

  it('decodes a value that is a slice of a longer string (as the cookie parser gives it)', () => {
    const decoder = new SignedValueDecoder();
    const id = randomBytes(32);
    const tag = randomBytes(32);
    const header = `a=1; sid=${valueOf(id, tag)}; b=2`;
    expect(decoder.decode(header.slice(9, 96))).toBe(true);
    expect(Array.from(decoder.words)).toEqual(wordsOf(id, tag));
  });

  it('refuses every non-zero setting of the unused bits of either last character', () => {
    const decoder = new SignedValueDecoder();
    const value = valueOf(randomBytes(32), randomBytes(32));
    for (const last of [42, 86]) {
      const sixtet = BASE64URL.indexOf(value[last]);
      for (const unused of [1, 2, 3]) {
        expect(decoder.decode(value.slice(0, last) + BASE64URL[sixtet ^ unused] + value.slice(last + 1))).toBe(false);
      }
    }
    expect(decoder.decode(value)).toBe(true);
  });

  it('refuses any character outside ASCII anywhere, however many UTF-8 bytes it takes', () => {
    const decoder = new SignedValueDecoder();
    const value = valueOf(randomBytes(32), randomBytes(32));
    // One, two or three UTF-8 bytes for one character, four for a surrogate pair; then pairs of them, which could
    // end a write short of the room at exactly 87 bytes if the room were too small.
    const insertions = [
      '\u0080',
      '\u00e9',
      '\u0141',
      '\u20ac',
      '\uffff',
      '\ud83d',
      '\ude00',
      '\ud83d\ude00',
      '\u00e9\u20ac',
      '\u00e9\ud83d\ude00',
      '\u20ac\ud83d\ude00',
    ];
    for (const insertion of insertions) {
      for (let at = 0; at + insertion.length <= value.length; at++) {
        const other = value.slice(0, at) + insertion + value.slice(at + insertion.length);
        expect(other.length).toBe(87);
        expect(decoder.decode(other)).toBe(false);
      }
    }
  });

  it('refuses ASCII characters outside base64url, a missing or moved dot and other lengths', () => {
    const decoder = new SignedValueDecoder();
    const value = valueOf(randomBytes(32), randomBytes(32));
    const alphabet = new Set(BASE64URL);
    for (let at = 0; at < value.length; at++) {
      for (let code = 0; code < 128; code++) {
        const c = String.fromCharCode(code);
        if (alphabet.has(c) || (at === 43 && c === '.')) continue;
        expect(decoder.decode(value.slice(0, at) + c + value.slice(at + 1))).toBe(false);
      }
    }
    for (const other of [
      value.slice(0, -1),
      `${value}A`,
      value.replace('.', ''),
      `${value.slice(0, 42)}.${value[42]}${value.slice(44)}`,
      `${value.slice(0, 43)}${value[44]}.${value.slice(45)}`,
      '',
    ]) {
      expect(decoder.decode(other)).toBe(false);
    }
  });
});
