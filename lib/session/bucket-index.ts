import { removeAndShiftBack } from '../util/linear-probing.js';

const EMPTY = 0;

/**
 * Which slot holds a bucket: an open-addressing hash table (linear probing) in one Int32Array, at least one and a
 * half times as large as the slots it indexes (filled to at most two thirds: a look-up that finds its slot probes
 * about two positions, one that does not about five), so 6-12 bytes a slot where a `Map` entry costs about 45. The buckets are
 * random bits (of a session id), so the low bits place them well; each slot's bucket is kept by the caller, at
 * `buckets[slot * stride]`, and the array passed in (a caller that keeps each slot's data in one typed array, the
 * bucket among it, needs no array of buckets beside it).
 *
 * A removal shifts the entries that follow back (no tombstones), so that probes stay as short as at insertion.
 */
export class BucketIndex {
  /** slot + 1 at each position, 0 for an empty one. */
  private table: Int32Array;
  private mask: number;
  private count = 0;

  /** `stride`: how many numbers of `buckets` each slot has; its bucket is the first. */
  constructor(
    slots: number,
    private readonly stride = 1,
  ) {
    this.table = new Int32Array(sizeFor(slots));
    this.mask = this.table.length - 1;
  }

  /** How many slots are indexed. */
  get size(): number {
    return this.count;
  }

  /** The slot that holds `bucket`, or -1. */
  get(bucket: number, buckets: Int32Array): number {
    const table = this.table;
    for (let at = bucket & this.mask; table[at] !== EMPTY; at = (at + 1) & this.mask) {
      const slot = table[at] - 1;
      if (buckets[slot * this.stride] === bucket) return slot;
    }
    return -1;
  }

  /** Indexes `slot` under its bucket (`buckets[slot * stride]`), which no indexed slot holds. */
  add(slot: number, buckets: Int32Array): void {
    const table = this.table;
    let at = buckets[slot * this.stride] & this.mask;
    while (table[at] !== EMPTY) at = (at + 1) & this.mask;
    table[at] = slot + 1;
    this.count++;
  }

  /** Forgets `slot` if it is indexed (under `buckets[slot * stride]`). */
  remove(slot: number, buckets: Int32Array): void {
    const table = this.table;
    const mask = this.mask;
    const stride = this.stride;
    let hole = buckets[slot * stride] & mask;
    while (table[hole] !== slot + 1) {
      if (table[hole] === EMPTY) return;
      hole = (hole + 1) & mask;
    }
    this.count--;
    removeAndShiftBack(table, mask, hole, EMPTY, (entry) => buckets[(entry - 1) * stride] & mask);
  }

  /** Room for `slots` slots: the indexed ones placed again (the table only grows). */
  resize(slots: number, buckets: Int32Array): void {
    const size = sizeFor(slots);
    if (size <= this.table.length) return;
    const old = this.table;
    this.table = new Int32Array(size);
    this.mask = size - 1;
    this.count = 0;
    for (const entry of old) if (entry !== EMPTY) this.add(entry - 1, buckets);
  }
}

/** The smallest power of two at least one and a half times `slots` (at least 16). */
function sizeFor(slots: number): number {
  let size = 16;
  while (size < 1.5 * slots) size *= 2;
  return size;
}
