import { NO_SLOT } from './slot-list.js';

/**
 * The exact values of the cells of a typed slot column that the column cannot hold, by cell (`slot * width +
 * column`): the column's cell holds a sentinel of its own instead. Such values are rare (a number past an Int32, a
 * fractional time), so a map costs the other slots nothing.
 */
export class WideValues {
  private values = new Map<number, number>();

  /** @param width the cells a slot has in the column. */
  constructor(private readonly width: number) {}

  /** How many values are held. */
  get size(): number {
    return this.values.size;
  }

  /** The value of a cell whose column holds the sentinel: it is always there. */
  get(at: number): number {
    return this.values.get(at)!;
  }

  set(at: number, value: number): void {
    this.values.set(at, value);
  }

  delete(at: number): void {
    this.values.delete(at);
  }

  /**
   * Drops the values of a freed slot: each of its cells in `column` (the typed column this map serves) that holds
   * `sentinel` is set to 0 and its value forgotten.
   */
  release(slot: number, column: Int32Array | Uint32Array, sentinel: number): void {
    // A sentinel in a cell always has its value here: with none in the map, no cell holds one.
    if (this.values.size === 0) return;
    for (let at = slot * this.width; at < (slot + 1) * this.width; at++) {
      if (column[at] === sentinel) {
        this.values.delete(at);
        column[at] = 0;
      }
    }
  }

  /** Moves the values of the slots `renumber` keeps to their new cells, and drops the others (see SlotTable.compact). */
  compact(renumber: Int32Array): void {
    const values = new Map<number, number>();
    for (const [at, value] of this.values) {
      const to = renumber[Math.floor(at / this.width)];
      if (to !== NO_SLOT) values.set(to * this.width + (at % this.width), value);
    }
    this.values = values;
  }
}
