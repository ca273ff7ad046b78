import { getRandomValues } from 'node:crypto';
import { removeAndShiftBack } from '../../util/linear-probing.js';

/** What {@link KeyIndex.get} returns for a key it does not hold, and what an empty place of its table holds. */
export const NO_ROW = -1;

const FIRST_CAPACITY = 16;

/**
 * A secret of this process that every hash starts from: user ids come from the application and may come from end
 * users, so nobody can work out ahead of time a set of ids that all land in the same place (hash flooding).
 */
const SEED = getRandomValues(new Int32Array(1))[0];

/** Finds a row by its key: what the owner of a {@link KeyIndex} lends to its collaborators. */
export interface KeyLookup {
  /** The row of `key`, or {@link NO_ROW}. */
  get(key: string): number;
}

/**
 * String key -> row number (non-negative), for an owner that already keeps each row's key in a column of its own:
 * the index keeps nothing but the rows, four bytes each in one `Int32Array`, and asks the owner for a row's key
 * (`keyOf`) to compare. A `Map` would keep a second reference to every key and about 24 B an entry besides.
 *
 * Open addressing with linear probing in a power-of-two table at most two thirds full (a lookup then probes about two
 * places); removal shifts the entries that follow back, so that no removed place is left behind (no tombstones) and
 * a lookup never probes further than the entries there are. The table doubles when full and halves when less than
 * an eighth is used, so that its cost follows the number of keys, not the most there ever were.
 *
 * Every operation is O(1) on average; a resize is one pass over the table, once per doubling or halving.
 */
export class KeyIndex implements KeyLookup {
  private places = new Int32Array(FIRST_CAPACITY).fill(NO_ROW);
  private count = 0;

  /** @param keyOf the key of a row the index holds, as its owner keeps it. */
  constructor(private readonly keyOf: (row: number) => string | undefined) {}

  /** How many keys the index holds. */
  get size(): number {
    return this.count;
  }

  /** {@inheritDoc KeyLookup.get} */
  get(key: string): number {
    const places = this.places;
    const mask = places.length - 1;
    for (let at = keyHash(key) & mask; ; at = (at + 1) & mask) {
      const row = places[at];
      if (row === NO_ROW || this.keyOf(row) === key) return row;
    }
  }

  /** Adds `key` (which the index must not hold) at `row`. */
  add(key: string, row: number): void {
    if ((this.count + 1) * 3 > this.places.length * 2) this.resize(this.places.length * 2);
    this.place(key, row);
    this.count++;
  }

  /** Removes `key`; returns its row, or {@link NO_ROW} if the index did not hold it. */
  remove(key: string): number {
    const places = this.places;
    const mask = places.length - 1;
    let at = keyHash(key) & mask;
    let row = places[at];
    while (row !== NO_ROW && this.keyOf(row) !== key) {
      at = (at + 1) & mask;
      row = places[at];
    }
    if (row === NO_ROW) return NO_ROW;
    removeAndShiftBack(places, mask, at, NO_ROW, (entry) => keyHash(this.keyOf(entry)!) & mask);
    this.count--;
    if (places.length > FIRST_CAPACITY && this.count * 8 < places.length) this.resize(places.length / 2);
    return row;
  }

  /**
   * Renumbers the rows (old row -> new row) after the owner moved them: a key's place depends on the key only, so
   * the entries stay where they are. `keyOf` need not answer meanwhile.
   */
  renumber(renumber: Int32Array): void {
    const places = this.places;
    for (let at = 0; at < places.length; at++) {
      if (places[at] !== NO_ROW) places[at] = renumber[places[at]];
    }
  }

  private place(key: string, row: number): void {
    const places = this.places;
    const mask = places.length - 1;
    let at = keyHash(key) & mask;
    while (places[at] !== NO_ROW) at = (at + 1) & mask;
    places[at] = row;
  }

  private resize(capacity: number): void {
    const old = this.places;
    this.places = new Int32Array(capacity).fill(NO_ROW);
    for (let at = 0; at < old.length; at++) {
      if (old[at] !== NO_ROW) this.place(this.keyOf(old[at])!, old[at]);
    }
  }
}

/**
 * The 32-bit hash of `key` the index places it by (its low bits), from the process's seed: a multiply and a shift
 * per character, then a final mix so that the low bits depend on all of them. Characters go in one at a time, 16 bits
 * into the low half: two at a time would let a character's top bit reach the multiply's top bit, where a difference
 * passes through unchanged and could be cancelled by the next word whatever the seed. Exported so that tests can
 * choose keys by the place they land in.
 */
export function keyHash(key: string): number {
  let h = SEED ^ key.length;
  for (let i = 0; i < key.length; i++) {
    h = Math.imul(h ^ key.charCodeAt(i), 0x9e3779b1);
    h ^= h >>> 15;
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}
