import { BucketIndex } from './bucket-index.js';

/** `id.tag`: two 43-character base64url strings (32 bytes each) around a dot. */
const PART = 43;
const COOKIE_LENGTH = 2 * PART + 1;
/** What a slot keeps of a cookie value: its 87 bytes (ASCII), and a zero, in 22 words of 32 bits. */
const WORDS = 22;
const BYTES = 4 * WORDS;
const FIRST_SLOTS = 256;

/** How many verified cookie values the engine remembers (about 110 bytes each). */
export const VERIFIED_COOKIES = 10_000;

/** The 6-bit value of each base64url character code, -1 for any other. */
const SIXTET = new Int8Array(128).fill(-1);
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'].entries()) SIXTET[c.charCodeAt(0)] = i;

/**
 * Cookie values whose signature verified, with their store key, so that a repeat visit skips the HMAC and the
 * SHA-256. Bounded: past `capacity` the oldest entry is forgotten (the next visit verifies again).
 *
 * Compact on purpose: one entry costs about 110 bytes (the value's bytes in one typed array, an index of small
 * integers, a reference to the store key) and holds no string of the request. Keeping the cookie value itself as a
 * map key kept the whole Cookie header alive with it (the parser's value is a slice of the header) and cost about
 * 280 bytes a session.
 *
 * Why a hit is exactly as safe as verifying the HMAC: an entry is written only for a value whose tag verified, and it
 * keeps every byte of that value (id, dot and tag, not a digest). A hit needs the presented value's UTF-8 bytes to be
 * equal to all of them (a character outside ASCII writes bytes no base64url character has), so the presented value
 * *is* a value that verified: a forged tag for a cached id (an id leaked without its tag) compares unequal and goes
 * to the HMAC, which refuses it. The comparison XORs all 22 words whatever differs, so its time does not tell how
 * much of a guessed tag was right. The index is keyed by
 * 30 bits of the id (see {@link BucketIndex}): two ids that share them take turns in one entry (a miss, never the other's key), and only
 * verified values are written, so a stranger cannot evict entries with forged cookies.
 *
 * The entry says nothing of the session's liveness, as before: its store key is read from the store on every
 * request, so a destroyed session's cookie finds no record there and is refused, cached or not.
 */
export class VerifiedCookies {
  /** 30 bits of the id (the slot's bucket) -> the slot that holds the last verified value with them. */
  private readonly slots = new BucketIndex(FIRST_SLOTS);
  private words = new Uint32Array(FIRST_SLOTS * WORDS);
  /** The presented value's bytes, written once per look-up (native, a third of reading it character by character). */
  private readonly scratch = new Uint32Array(WORDS);
  private readonly scratchBytes = Buffer.from(this.scratch.buffer);
  /**
   * Each slot's store key. The opener remembers the value it issues with the very key string the store was given,
   * so a store that keeps its keys in memory shares it: the entry adds no string (and a look-up in that store
   * compares one pointer, its hash cached).
   */
  private readonly keys: Array<string | undefined> = [];
  /** Each slot's bucket: where the index looks for it. */
  private buckets = new Int32Array(FIRST_SLOTS);
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
    if (value.length !== COOKIE_LENGTH) return undefined;
    const bucket = bucketOf(value);
    if (bucket < 0) return undefined;
    const slot = this.slots.get(bucket, this.buckets);
    if (slot < 0 || !this.holds(slot, value)) return undefined;
    return this.keys[slot];
  }

  /**
   * Remembers that `value` verified (or was just signed here) and that its session is stored under `key`. Call it
   * only then: what is written here is trusted without the HMAC.
   */
  remember(value: string, key: string): void {
    if (value.length !== COOKIE_LENGTH || value.charCodeAt(PART) !== 0x2e) return;
    const bucket = bucketOf(value);
    if (bucket < 0) return;
    let slot = this.slots.get(bucket, this.buckets);
    if (slot < 0) {
      slot = this.nextSlot();
      this.buckets[slot] = bucket;
      this.slots.add(slot, this.buckets);
    }
    const bytes = new Uint8Array(this.words.buffer, slot * BYTES, BYTES);
    for (let i = 0; i < COOKIE_LENGTH; i++) bytes[i] = value.charCodeAt(i);
    bytes.fill(0, COOKIE_LENGTH);
    // Grown by push only, as the slots are handed out in order: a larger length set at once would make a sparse array.
    if (slot === this.keys.length) this.keys.push(key);
    else this.keys[slot] = key;
  }

  /** Whether `slot` holds `value` (87 characters), compared over every word whatever differs. */
  private holds(slot: number, value: string): boolean {
    const scratch = this.scratch;
    this.scratchBytes.fill(0, COOKIE_LENGTH);
    this.scratchBytes.write(value, 0, BYTES, 'utf8');
    const words = this.words;
    const at = slot * WORDS;
    let differs = 0;
    for (let i = 0; i < WORDS; i++) differs |= words[at + i] ^ scratch[i];
    return differs === 0;
  }

  /** A free slot, or the oldest one (its entry forgotten) once `capacity` are in use. */
  private nextSlot(): number {
    if (this.used < this.capacity) {
      if (this.used === this.room) this.grow();
      return this.used++;
    }
    const slot = this.next;
    this.next = (this.next + 1) % this.capacity;
    this.slots.remove(slot, this.buckets);
    return slot;
  }

  private grow(): void {
    this.room = Math.min(this.capacity, this.room * 2);
    const words = new Uint32Array(this.room * WORDS);
    words.set(this.words);
    this.words = words;
    const buckets = new Int32Array(this.room);
    buckets.set(this.buckets);
    this.buckets = buckets;
    this.slots.resize(this.room, buckets);
  }
}

/** 30 bits from the first five characters of the id (random bytes, so spread); -1 if one is not base64url. */
function bucketOf(value: string): number {
  let bucket = 0;
  for (let i = 0; i < 5; i++) {
    const code = value.charCodeAt(i);
    const sixtet = code < 128 ? SIXTET[code] : -1;
    if (sixtet < 0) return -1;
    bucket = (bucket << 6) | sixtet;
  }
  return bucket;
}
