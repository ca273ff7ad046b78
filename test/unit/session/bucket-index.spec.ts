import { BucketIndex } from '../../../lib/session/bucket-index.js';

/** A small deterministic generator (xorshift32), so that a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
}

describe('BucketIndex', () => {
  it('finds each indexed slot by its bucket, and -1 for a bucket nobody holds', () => {
    const buckets = new Int32Array([7, 23, 39]);
    const index = new BucketIndex(3);
    for (let slot = 0; slot < 3; slot++) index.add(slot, buckets);
    expect([index.get(7, buckets), index.get(23, buckets), index.get(39, buckets)]).toEqual([0, 1, 2]);
    expect(index.get(55, buckets)).toBe(-1);
    expect(index.size).toBe(3);
  });

  it('keeps every other entry of a probe run reachable when one in its middle or at its wrap-around is removed', () => {
    // Table of 16 positions: 15, 31 and 47 all start at position 15, so the run wraps round to 0 and 1.
    const buckets = new Int32Array([15, 31, 47, 0, 14]);
    const index = new BucketIndex(5);
    for (let slot = 0; slot < 5; slot++) index.add(slot, buckets);
    index.remove(1, buckets);
    expect(index.get(31, buckets)).toBe(-1);
    expect([index.get(15, buckets), index.get(47, buckets), index.get(0, buckets), index.get(14, buckets)]).toEqual([0, 2, 3, 4]);
    index.remove(0, buckets);
    expect([index.get(47, buckets), index.get(0, buckets), index.get(14, buckets)]).toEqual([2, 3, 4]);
    // A slot that is not indexed: nothing changes.
    index.remove(1, buckets);
    expect(index.size).toBe(3);
  });

  it("reads each slot's bucket at slot * stride, negative buckets included", () => {
    // Four numbers a slot, the bucket first: the rest must never be taken for a bucket.
    const words = new Int32Array([-17, 1, 2, 3, 15, -17, -17, -17, -1, 15, 15, 15, 31, 0, 0, 0]);
    const index = new BucketIndex(4, 4);
    for (let slot = 0; slot < 4; slot++) index.add(slot, words);
    expect([index.get(-17, words), index.get(15, words), index.get(-1, words), index.get(31, words)]).toEqual([0, 1, 2, 3]);
    expect([index.get(1, words), index.get(2, words), index.get(0, words)]).toEqual([-1, -1, -1]);
    index.remove(1, words);
    expect([index.get(-17, words), index.get(15, words), index.get(-1, words), index.get(31, words)]).toEqual([0, -1, 2, 3]);
    const grown = new Int32Array(64);
    grown.set(words);
    index.resize(16, grown);
    expect([index.get(-17, grown), index.get(-1, grown), index.get(31, grown)]).toEqual([0, 2, 3]);
    expect(index.size).toBe(3);
  });

  it('agrees with a Map through many random adds, removals and growths', () => {
    const next = random(12345);
    const slots = 2000;
    let buckets = new Int32Array(64);
    let room = 64;
    const index = new BucketIndex(room);
    const model = new Map<number, number>();
    const bySlot = new Map<number, number>();
    for (let step = 0; step < 20_000; step++) {
      const slot = next() % slots;
      if (slot >= room) {
        while (room <= slot) room *= 2;
        const grown = new Int32Array(room);
        grown.set(buckets);
        buckets = grown;
        index.resize(room, buckets);
      }
      const known = bySlot.get(slot);
      if (known !== undefined) {
        index.remove(slot, buckets);
        model.delete(known);
        bySlot.delete(slot);
      } else {
        // 256 distinct low bytes only, so that the slots share home positions and probe runs are long.
        const bucket = next() & 0x3fff00ff;
        if (model.has(bucket)) continue;
        buckets[slot] = bucket;
        index.add(slot, buckets);
        model.set(bucket, slot);
        bySlot.set(slot, bucket);
      }
      if (step % 1000 === 0) {
        for (const [bucket, held] of model) expect(index.get(bucket, buckets)).toBe(held);
      }
    }
    for (const [bucket, held] of model) expect(index.get(bucket, buckets)).toBe(held);
    expect(index.size).toBe(model.size);
  });
});
