import { KeyIndex, keyHash, NO_ROW } from '../../../lib/stores/memory/key-index.js';

/** The table size of a new index: it holds up to ten keys before it doubles. */
const FIRST_CAPACITY = 16;

/** An index over a key column, as its owners keep one: rows are handed out in order, freed rows left empty. */
function setUp() {
  const keys: Array<string | undefined> = [];
  const index = new KeyIndex((row) => keys[row]);
  const add = (key: string): number => {
    keys.push(key);
    index.add(key, keys.length - 1);
    return keys.length - 1;
  };
  const remove = (key: string): number => {
    const row = index.remove(key);
    if (row !== NO_ROW) keys[row] = undefined;
    return row;
  };
  return { keys, index, add, remove };
}

/** A key whose home place, in a table of `capacity` places, is `place`. */
function keyAt(place: number, capacity: number, tag: string): string {
  for (let n = 0; ; n++) {
    const key = `${tag}-${n}`;
    if ((keyHash(key) & (capacity - 1)) === place) return key;
  }
}

describe('KeyIndex', () => {
  it('finds each key at its row, and nothing for a key it does not hold', () => {
    const { index, add, remove } = setUp();
    expect(index.get('a')).toBe(NO_ROW);
    const rows = ['a', 'b', '', 'c'].map(add);
    expect(['a', 'b', '', 'c'].map((key) => index.get(key))).toEqual(rows);
    expect(index.size).toBe(4);
    expect(remove('b')).toBe(rows[1]);
    expect(remove('b')).toBe(NO_ROW);
    expect(index.get('b')).toBe(NO_ROW);
    expect(index.get('')).toBe(rows[2]);
    expect(index.size).toBe(3);
  });

  it('keeps keys that share a home place apart, whichever of them goes', () => {
    const { index, add, remove } = setUp();
    const keys = ['a', 'b', 'c', 'd', 'e'].map((tag) => keyAt(3, FIRST_CAPACITY, tag));
    const rows = keys.map(add);
    remove(keys[0]!);
    remove(keys[2]!);
    expect(keys.map((key) => index.get(key))).toEqual([NO_ROW, rows[1], NO_ROW, rows[3], rows[4]]);
    remove(keys[4]!);
    expect(keys.map((key) => index.get(key))).toEqual([NO_ROW, rows[1], NO_ROW, rows[3], NO_ROW]);
  });

  it('shifts a run back across the end of the table when a key of it goes', () => {
    const { index, add, remove } = setUp();
    // Homes 14, 15, 14, 15, 0: they fill places 14, 15, 0, 1, 2.
    const [a, b, c, d, e] = [14, 15, 14, 15, 0].map((home, i) => keyAt(home, FIRST_CAPACITY, `k${i}`)) as [
      string,
      string,
      string,
      string,
      string,
    ];
    const rows = [a, b, c, d, e].map(add);
    remove(a);
    expect([b, c, d, e].map((key) => index.get(key))).toEqual(rows.slice(1));
    remove(b);
    expect([c, d, e].map((key) => index.get(key))).toEqual(rows.slice(2));
    remove(e);
    expect([c, d].map((key) => index.get(key))).toEqual(rows.slice(2, 4));
    expect(index.size).toBe(2);
  });

  it('does not shift a key back before its home place', () => {
    const { index, add, remove } = setUp();
    // Homes 14, 15, 15, 0 at places 14, 15, 0, 1: once x goes, z and w must stay after y's place.
    const [x, y, z, w] = [14, 15, 15, 0].map((home, i) => keyAt(home, FIRST_CAPACITY, `h${i}`)) as [string, string, string, string];
    const rows = [x, y, z, w].map(add);
    remove(x);
    expect([y, z, w].map((key) => index.get(key))).toEqual(rows.slice(1));
    remove(y);
    expect([z, w].map((key) => index.get(key))).toEqual(rows.slice(2));
  });

  it('grows with its keys and shrinks as they go', () => {
    const { keys, index, add, remove } = setUp();
    const added = Array.from({ length: 5_000 }, (_, i) => `user-${i}`);
    for (const key of added) add(key);
    expect(index.size).toBe(5_000);
    expect(added.every((key, row) => index.get(key) === row)).toBe(true);
    const order = added.map((key, i) => [key, (i * 7919) % 5_000] as const).sort((p, q) => p[1] - q[1]);
    for (const [key] of order.slice(0, 4_990)) remove(key);
    expect(index.size).toBe(10);
    for (const [key] of order.slice(0, 4_990)) expect(index.get(key)).toBe(NO_ROW);
    for (const [key] of order.slice(4_990)) expect(keys[index.get(key)]).toBe(key);
    for (const key of ['x', 'y', 'z']) expect(keys[index.get(key)] ?? keys[add(key)]).toBe(key);
    expect(index.size).toBe(13);
  });

  it('follows its rows to their new numbers after the owner moved them', () => {
    const { keys, index, add, remove } = setUp();
    const added = Array.from({ length: 300 }, (_, i) => `s${i}`);
    for (const key of added) add(key);
    for (let i = 0; i < 300; i += 3) remove(added[i]!);
    // Moved to the lowest rows in order, as SlotTable.compact does.
    const renumber = new Int32Array(keys.length).fill(NO_ROW);
    const moved: string[] = [];
    keys.forEach((key, row) => {
      if (key !== undefined) renumber[row] = moved.push(key) - 1;
    });
    keys.splice(0, keys.length, ...moved);
    index.renumber(renumber);
    expect(index.size).toBe(200);
    expect(moved.every((key, row) => index.get(key) === row)).toBe(true);
    expect(index.get('s0')).toBe(NO_ROW);
  });

  it('spreads keys that differ only at their start or their end', () => {
    const places = 16_384;
    const prefix = 'x'.repeat(40);
    for (const keyOf of [(i: number) => `${prefix}${i}`, (i: number) => `${i}${prefix}`]) {
      const { index, add } = setUp();
      const keys = Array.from({ length: 10_000 }, (_, i) => keyOf(i));
      for (const key of keys) add(key);
      expect(keys.every((key, row) => index.get(key) === row)).toBe(true);
      // Random places would leave about 7,470 distinct ones (16,384 × (1 − e^(−10,000/16,384))).
      const used = new Set(keys.map((key) => keyHash(key) & (places - 1)));
      expect(used.size).toBeGreaterThan(7_000);
    }
  });

  it('agrees with a Map through a long run of adds and removes on a small table', () => {
    const { keys, index, add, remove } = setUp();
    const model = new Map<string, number>();
    const pool = Array.from({ length: 12 }, (_, i) => `p${i}`);
    let state = 12_345;
    const random = (n: number) => {
      state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
      return (state >>> 8) % n;
    };
    for (let step = 0; step < 5_000; step++) {
      const key = pool[random(pool.length)]!;
      if (model.has(key)) {
        expect(remove(key)).toBe(model.get(key));
        model.delete(key);
      } else {
        model.set(key, add(key));
      }
      expect(index.size).toBe(model.size);
      for (const each of pool) expect(index.get(each)).toBe(model.get(each) ?? NO_ROW);
    }
    expect(keys.length).toBeGreaterThan(250);
  });
});
