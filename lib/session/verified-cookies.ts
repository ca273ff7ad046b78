import { BucketIndex } from './bucket-index.js';
import { SIGNED_VALUE_WORDS, SignedValueDecoder } from './signed-value-decoder.js';

/** Words kept of each part: the first 16 bytes (128 bits) of the id and the last 16 of the tag. */
const KEPT = 4;
/** Where the tag's kept words start among the decoded words: its last 16 bytes. */
const TAG = SIGNED_VALUE_WORDS - KEPT;
/** Int32 words an entry keeps of its value (32 bytes): the id's kept words, then the tag's. */
export const VERIFIED_COOKIE_WORDS = 2 * KEPT;
const WORDS = VERIFIED_COOKIE_WORDS;
const FIRST_SLOTS = 256;

/** How many verified cookie values the engine remembers (about 48 bytes each). */
export const VERIFIED_COOKIES = 10_000;

/**
 * Cookie values whose signature verified, with their store key, so that a repeat visit skips the HMAC and the
 * SHA-256. Bounded: past `capacity` the oldest entry is forgotten (the next visit verifies again).
 *
 * Compact on purpose: one entry costs about 48 bytes (32 decoded bytes in one typed array, an index of small
 * integers, a reference to the store key) and holds no string of the request. Keeping the cookie value itself as a
 * map key kept the whole Cookie header alive with it (the parser's value is a slice of the header) and cost about
 * 280 bytes a session; keeping its 87 characters as bytes cost about 115.
 *
 * What a hit proves: an entry is written only for a value whose tag verified (or that this server signed), and it
 * keeps the first 16 bytes (128 bits) of that value's id and the last 16 of its tag. A hit is a value that matches
 * one that verified in both. Someone who knows a cached session's id but not its cookie must guess 128 bits of the
 * tag: HMAC-SHA-256 truncated to 128 bits is an accepted MAC length (RFC 4868, NIST SP 800-107), and 128 bits is
 * what OWASP ASVS 5 asks of a session token. Someone who knows the tag but not the id must guess 128 bits of the
 * id. So a value that hits shares both kept parts with a value that verified, which no party without that cookie
 * can produce; one that differs only in the id's last 16 bytes or the tag's first 16 is the accepted truncation,
 * and hits with the key of the value it matches. The kept bits are the two ends of the value (characters 0-21 and
 * 65-86) so that no prefix or suffix of a cookie short of the whole of it, as a log that cuts values short would
 * keep, spells both. Only a canonical value is decoded at all (see {@link SignedValueDecoder}:
 * 87 characters, the dot at 43, base64url elsewhere, the unused bits of each part's last character zero), so any
 * other spelling, or a character Node's own base64 decoder would skip, is a miss and the HMAC check refuses it. The
 * comparison XORs every kept word whatever differs, so its time does not tell how much of a guessed tag was right.
 * The index is keyed by the id's first 32 bits (see {@link BucketIndex}): two ids that share them take turns in one
 * entry (a miss, never the other's key), and only verified values are written, so a stranger cannot evict entries
 * with forged cookies.
 *
 * The entry says nothing of the session's liveness, as before: its store key is read from the store on every
 * request, so a destroyed session's cookie finds no record there and is refused, cached or not.
 */
export class VerifiedCookies {
  /** The id's first word (the slot's bucket) -> the slot that holds the last verified value with it. */
  private readonly slots = new BucketIndex(FIRST_SLOTS, WORDS);
  /** Each slot's 8 words: the kept words of the id (the first is the slot's bucket), then those of the tag. */
  private words = new Int32Array(FIRST_SLOTS * WORDS);
  /** The presented value, decoded once per look-up. */
  private readonly decoder = new SignedValueDecoder();
  /**
   * Each slot's store key. The opener remembers the value it issues with the very key string the store was given,
   * so a store that keeps its keys in memory shares it: the entry adds no string (and a look-up in that store
   * compares one pointer, its hash cached).
   */
  private readonly keys: Array<string | undefined> = [];
  private room = FIRST_SLOTS;
  /** Slots are handed out in a ring: once all `capacity` are used, the oldest written is the next reused. */
  private next = 0;
  private used = 0;

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error('VerifiedCookies: capacity must be a positive integer');
  }

  /** How many values are remembered. */
  get size(): number {
    return this.slots.size;
  }

  /** The store key of `value` if this exact value verified before (and is still remembered); otherwise undefined. */
  keyOf(value: string): string | undefined {
    if (!this.decoder.decode(value)) return undefined;
    const slot = this.slots.get(this.decoder.words[0], this.words);
    if (slot < 0 || !this.holds(slot)) return undefined;
    return this.keys[slot];
  }

  /**
   * Remembers that `value` verified (or was just signed here) and that its session is stored under `key`. Call it
   * only then: what is written here is trusted without the HMAC.
   */
  remember(value: string, key: string): void {
    if (!this.decoder.decode(value)) return;
    let slot = this.slots.get(this.decoder.words[0], this.words);
    const known = slot >= 0;
    // A reused slot leaves the index under its old bucket (still in its words) before they are overwritten.
    if (!known) slot = this.nextSlot();
    this.keep(slot);
    if (!known) this.slots.add(slot, this.words);
    // Grown by push only, as the slots are handed out in order: a larger length set at once would make a sparse array.
    if (slot === this.keys.length) this.keys.push(key);
    else this.keys[slot] = key;
  }

  /** Whether `slot` holds the kept words of the value just decoded, compared over all of them whatever differs. */
  private holds(slot: number): boolean {
    const decoded = this.decoder.words;
    const words = this.words;
    const at = slot * WORDS;
    let differs = 0;
    for (let i = 0; i < KEPT; i++) differs |= (words[at + i] ^ decoded[i]) | (words[at + KEPT + i] ^ decoded[TAG + i]);
    return differs === 0;
  }

  /** Writes the kept words of the value just decoded into `slot`. */
  private keep(slot: number): void {
    const decoded = this.decoder.words;
    const words = this.words;
    const at = slot * WORDS;
    for (let i = 0; i < KEPT; i++) {
      words[at + i] = decoded[i];
      words[at + KEPT + i] = decoded[TAG + i];
    }
  }

  /** A free slot, or the oldest one (its entry forgotten) once `capacity` are in use. */
  private nextSlot(): number {
    if (this.used < this.capacity) {
      if (this.used === this.room) this.grow();
      return this.used++;
    }
    const slot = this.next;
    this.next = (this.next + 1) % this.capacity;
    this.slots.remove(slot, this.words);
    return slot;
  }

  private grow(): void {
    this.room = Math.min(this.capacity, this.room * 2);
    const words = new Int32Array(this.room * WORDS);
    words.set(this.words);
    this.words = words;
    this.slots.resize(this.room, words);
  }
}
