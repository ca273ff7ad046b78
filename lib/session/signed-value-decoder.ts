/** `id.tag`: two 43-character base64url strings (32 bytes each) around a dot. */
const PART = 43;
const VALUE_LENGTH = 2 * PART + 1;
/** The decoded value: the id's 32 bytes, then the tag's 32, four to a word, first byte highest. */
export const SIGNED_VALUE_WORDS = 16;
/**
 * Where the value's UTF-8 is written: 87 bytes are written only if every character is ASCII. One outside it makes
 * at least 88 bytes, and a write stops fewer than 4 bytes short of this room (a character goes whole or not at all),
 * so with room for 91 or more it writes at least 88. 96: a whole number of 16-bit pairs.
 */
const ROOM = 96;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The 6-bit value of each base64url character code, -1 for any other ASCII one. */
const SIXTET = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) SIXTET[ALPHABET.charCodeAt(i)] = i;

/**
 * The 12 bits of each pair of ASCII characters as one 16-bit load reads them from memory, -1 if either is not
 * base64url (64 KB, once per process: decoding one character at a time through a table of 128 was about a third
 * slower).
 */
const PAIR = new Int16Array(0x8000).fill(-1);
for (let a = 0; a < 128; a++) {
  for (let b = 0; b < 128; b++) {
    if (SIXTET[a] >= 0 && SIXTET[b] >= 0) PAIR[LITTLE_ENDIAN ? (b << 8) | a : (a << 8) | b] = (SIXTET[a] << 6) | SIXTET[b];
  }
}

/**
 * Decodes a signed cookie value `id.tag` into its 64 bytes, if it is canonical: exactly 87 characters, the dot at
 * 43, every other character base64url, and the 2 unused bits of each part's last character zero. A canonical value
 * is the one spelling of its bytes, so two canonical values with equal bytes are the same value.
 *
 * Node's base64 decoders cannot be used to reject: they skip characters outside the alphabet and ignore the unused
 * bits. The characters are written once natively (less than half the cost of reading them one at a time from the
 * string, which is often a slice of the Cookie header) and decoded two at a time; every character is decoded
 * whatever the earlier ones were.
 */
export class SignedValueDecoder {
  /** The last value decoded: 16 words, valid only after {@link decode} said true. */
  readonly words = new Int32Array(SIGNED_VALUE_WORDS);
  private readonly bytes = Buffer.alloc(ROOM);
  private readonly pairs = new Uint16Array(this.bytes.buffer, this.bytes.byteOffset, ROOM >> 1);

  /** Whether `value` is a canonical `id.tag`; if so, its bytes are in {@link words}. */
  decode(value: string): boolean {
    if (value.length !== VALUE_LENGTH) return false;
    const bytes = this.bytes;
    if (bytes.write(value, 0, ROOM, 'utf8') !== VALUE_LENGTH || bytes[PART] !== 0x2e /* . */) return false;
    return (this.part(0, 0) | this.part(PART + 1, SIGNED_VALUE_WORDS / 2)) >= 0;
  }

  /**
   * The 43 characters from byte `at` (even) as 8 words from `out` on: twice 16 characters (eight pairs, 96 bits, 3
   * words), then 10 characters and a last one whose 2 unused bits must be zero. Negative if the part is not
   * canonical base64url.
   */
  private part(at: number, out: number): number {
    const pairs = this.pairs;
    const words = this.words;
    let pair = at >> 1;
    let check = 0;
    for (let half = 0; half < 2; half++, pair += 8, out += 3) {
      const p0 = PAIR[pairs[pair]];
      const p1 = PAIR[pairs[pair + 1]];
      const p2 = PAIR[pairs[pair + 2]];
      const p3 = PAIR[pairs[pair + 3]];
      const p4 = PAIR[pairs[pair + 4]];
      const p5 = PAIR[pairs[pair + 5]];
      const p6 = PAIR[pairs[pair + 6]];
      const p7 = PAIR[pairs[pair + 7]];
      check |= p0 | p1 | p2 | p3 | p4 | p5 | p6 | p7;
      words[out] = (p0 << 20) | (p1 << 8) | (p2 >>> 4);
      words[out + 1] = (p2 << 28) | (p3 << 16) | (p4 << 4) | (p5 >>> 8);
      words[out + 2] = (p5 << 24) | (p6 << 12) | p7;
    }
    const p0 = PAIR[pairs[pair]];
    const p1 = PAIR[pairs[pair + 1]];
    const p2 = PAIR[pairs[pair + 2]];
    const p3 = PAIR[pairs[pair + 3]];
    const p4 = PAIR[pairs[pair + 4]];
    const last = SIXTET[this.bytes[at + PART - 1]];
    words[out] = (p0 << 20) | (p1 << 8) | (p2 >>> 4);
    words[out + 1] = (p2 << 28) | (p3 << 16) | (p4 << 4) | (last >>> 2);
    // -(last & 3) is negative when an unused bit is set: another spelling of the same bytes.
    return check | p0 | p1 | p2 | p3 | p4 | last | -(last & 3);
  }
}
