import { ExpiryBuckets } from '../../../lib/stores/memory/expiry-buckets.js';

describe('ExpiryBuckets', () => {
  /** The entries of `second` in order, dropping them. */
  function drainAll(buckets: ExpiryBuckets, second: number): number[] {
    const seen: number[] = [];
    buckets.drain(second, (slot) => {
      seen.push(slot);
      return false;
    });
    return seen;
  }

  it('gives each second its own entries, in the order they were added, duplicates included', () => {
    const buckets = new ExpiryBuckets();
    buckets.add(10, 1);
    buckets.add(11, 2);
    buckets.add(10, 3);
    buckets.add(10, 1);
    expect(buckets.count).toBe(2);
    expect(drainAll(buckets, 10)).toEqual([1, 3, 1]);
    expect(drainAll(buckets, 11)).toEqual([2]);
    expect(drainAll(buckets, 12)).toEqual([]);
    expect(buckets.count).toBe(0);
  });

  it('holds many entries in one second', () => {
    const buckets = new ExpiryBuckets();
    const slots = Array.from({ length: 100_000 }, (_, i) => i);
    for (const slot of slots) buckets.add(5, slot);
    expect(drainAll(buckets, 5)).toEqual(slots);
  });

  it('keeps the entries the visitor keeps, in order, and only them', () => {
    const buckets = new ExpiryBuckets();
    for (let slot = 0; slot < 20; slot++) buckets.add(7, slot);
    buckets.drain(7, (slot) => slot % 3 === 0);
    expect(buckets.count).toBe(1);
    expect(drainAll(buckets, 7)).toEqual([0, 3, 6, 9, 12, 15, 18]);
    expect(buckets.count).toBe(0);
  });

  it('visits the entries added to the second being drained while it is drained', () => {
    const buckets = new ExpiryBuckets();
    buckets.add(3, 0);
    const seen: number[] = [];
    buckets.drain(3, (slot) => {
      seen.push(slot);
      // Enough additions to make the bucket grow under the visit.
      if (slot < 40) buckets.add(3, slot + 1);
      if (slot === 0) buckets.add(4, 100);
      return slot === 40;
    });
    expect(seen).toEqual(Array.from({ length: 41 }, (_, i) => i));
    expect(drainAll(buckets, 3)).toEqual([40]);
    expect(drainAll(buckets, 4)).toEqual([100]);
  });

  it('forgets everything on clear', () => {
    const buckets = new ExpiryBuckets();
    buckets.add(1, 1);
    buckets.add(2, 2);
    buckets.clear();
    expect(buckets.count).toBe(0);
    expect(drainAll(buckets, 1)).toEqual([]);
  });
});
