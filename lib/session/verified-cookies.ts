import { BucketIndex } from './bucket-index.js';

/** `id.tag`: two 43-character base64url strings (32 bytes each) around a dot. */
const PART = 43;
const COOKIE_LENGTH = 2 * PART + 1;
/** What a slot keeps of a cookie value: its characters but the dot. */
const CHARS = 2 * PART;
/** What a slot keeps of a store key (SHA-256, base64url): its 32 bytes. */
const KEY_BYTES = 32;
const FIRST_SLOTS = 256;

/** The 6-bit value of each base64url character code, -1 for any other. */
const SIXTET = new Int8Array(128).fill(-1);
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'].entries()) SIXTET[c.charCodeAt(0)] = i;

/**
 * Cookie values whose signature verified, with their store key, so that a repeat visit skips the HMAC and the
 * SHA-256. Bounded: past `capacity` the oldest entry is forgotten (the next visit verifies again).
 *
 * Compact on purpose: one entry costs about 130 bytes (the characters in one typed array, the store key's 32 bytes in
 * another, an index of small integers) and holds no string of the request. Keeping the cookie value itself as a map key
 * kept the whole Cookie header alive with it (the parser's value is a slice of the header) and cost about 280 bytes a
 * session.
 *
 * Why a hit is exactly as safe as verifying the HMAC: an entry is written only for a value whose tag verified, and it
 * keeps every character of that value (id and tag, 86 of them, not a digest). A hit needs every one of them to be
 * equal to the presented value's, so the presented value *is* a value that verified: a forged tag for a cached id
 * (an id leaked without its tag) compares unequal and goes to the HMAC, which refuses it. The comparison visits all
 * 86 characters whatever differs, so its time does not tell how much of a guessed tag was right. The index is keyed by
 * 30 bits of the id (see {@link BucketIndex}): two ids that share them take turns in one entry (a miss, never the other's key), and only
 * verified values are written, so a stranger cannot evict entries with forged cookies.
 *
 * The entry says nothing of the session's liveness, as before: its store key is read from the store on every
 * request, so a destroyed session's cookie finds no record there and is refused, cached or not.
 */
export class VerifiedCookies {
  /** 30 bits of the id (the slot's bucket) -> the slot that holds the last verified value with them. */
  private readonly slots = new BucketIndex(FIRST_SLOTS);
  private chars = new Uint8Array(FIRST_SLOTS * CHARS);
  private keys = Buffer.alloc(FIRST_SLOTS * KEY_BYTES);
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
    return this.keys.toString('base64url', slot * KEY_BYTES, (slot + 1) * KEY_BYTES);
  }

  /**
   * Remembers that `value` verified and that its session is stored under `key`. Call it only after the signature
   * verified: what is written here is trusted without the HMAC.
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
    const at = slot * CHARS;
    for (let i = 0; i < PART; i++) {
      this.chars[at + i] = value.charCodeAt(i);
      this.chars[at + PART + i] = value.charCodeAt(PART + 1 + i);
    }
    if (this.keys.write(key, slot * KEY_BYTES, KEY_BYTES, 'base64url') !== KEY_BYTES) {
      // Not a SHA-256 in base64url: nothing to remember (the value then verifies on every visit).
      this.slots.remove(slot, this.buckets);
    }
  }

  /** Whether `slot` holds `value`, compared over every character whatever differs. */
  private holds(slot: number, value: string): boolean {
    const chars = this.chars;
    const at = slot * CHARS;
    let differs = value.charCodeAt(PART) ^ 0x2e;
    for (let i = 0; i < PART; i++) {
      differs |= chars[at + i] ^ value.charCodeAt(i);
      differs |= chars[at + PART + i] ^ value.charCodeAt(PART + 1 + i);
    }
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
    const chars = new Uint8Array(this.room * CHARS);
    chars.set(this.chars);
    this.chars = chars;
    const keys = Buffer.alloc(this.room * KEY_BYTES);
    this.keys.copy(keys);
    this.keys = keys;
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
