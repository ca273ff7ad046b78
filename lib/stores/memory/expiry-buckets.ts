/** The slots of one second, appended to and never searched. */
class Bucket {
  slots = new Int32Array(8);
  length = 0;

  push(slot: number): void {
    if (this.length === this.slots.length) {
      const grown = new Int32Array(this.slots.length * 2);
      grown.set(this.slots);
      this.slots = grown;
    }
    this.slots[this.length++] = slot;
  }
}

/**
 * Slots grouped by the second in which they are due to expire, four bytes an entry.
 *
 * Entries are never taken out when a session goes or moves: removing one would need an index per entry. Instead,
 * whoever drains a bucket decides for each entry whether it still means something (the slot may have been freed,
 * reused by another session, or scheduled elsewhere since). The caller keeps one valid entry per session.
 */
export class ExpiryBuckets {
  private readonly buckets = new Map<number, Bucket>();

  /** How many seconds have a bucket. */
  get count(): number {
    return this.buckets.size;
  }

  add(second: number, slot: number): void {
    let bucket = this.buckets.get(second);
    if (bucket === undefined) {
      bucket = new Bucket();
      this.buckets.set(second, bucket);
    }
    bucket.push(slot);
  }

  /**
   * Calls `visit` for every entry of `second`, including entries added to it while it runs (by `visit` or by
   * anything `visit` calls). Entries for which `visit` returns true stay in the bucket, the others are dropped;
   * the bucket goes when nothing stays.
   */
  drain(second: number, visit: (slot: number) => boolean): void {
    const bucket = this.buckets.get(second);
    if (bucket === undefined) return;
    let kept = 0;
    // `slots` and `length` are read afresh on each turn: an addition during `visit` may replace the array.
    for (let i = 0; i < bucket.length; i++) {
      const slot = bucket.slots[i];
      if (visit(slot)) bucket.slots[kept++] = slot;
    }
    if (kept > 0) bucket.length = kept;
    else this.buckets.delete(second);
  }

  clear(): void {
    this.buckets.clear();
  }
}
