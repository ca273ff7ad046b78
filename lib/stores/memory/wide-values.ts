import { NO_SLOT } from './slot-list.js';

/** A typed slot column whose cells a {@link WideValues} completes. */
type Cells = Int32Array | Uint32Array;

/**
 * The exact values of the cells of a typed slot column that the column cannot hold, by cell (`slot * width +
 * column`): such a cell holds the column's `sentinel` instead, never a value of its own. Such values are rare (a
 * number past an Int32, a fractional time), so a map costs the other slots nothing.
 */
export class WideValues {
  private values = new Map<number, number>();

  /**
   * @param width the cells a slot has in the column.
   * @param sentinel what the column holds in a cell whose value is here.
   */
  constructor(
    private readonly width: number,
    private readonly sentinel: number,
  ) {}

  /** How many values are held. */
  get size(): number {
    return this.values.size;
  }

  /** The value of a cell that holds the sentinel: it is always here. */
  get(at: number): number {
    return this.values.get(at)!;
  }

  /**
   * Writes `stored` into the cell `at` of `cells`, and `exact` here when `stored` is the sentinel; forgets the cell's
   * earlier value when it no longer needs one.
   */
  write(cells: Cells, at: number, stored: number, exact: number): void {
    if (stored === this.sentinel) this.values.set(at, exact);
    else if (cells[at] === this.sentinel) this.values.delete(at);
    cells[at] = stored;
  }

  /** Drops the values of a freed slot: each of its cells in `cells` that holds the sentinel is set to 0. */
  release(cells: Cells, slot: number): void {
    // A sentinel in a cell always has its value here: with none in the map, no cell holds one.
    if (this.values.size === 0) return;
    for (let at = slot * this.width; at < (slot + 1) * this.width; at++) {
      if (cells[at] === this.sentinel) {
        this.values.delete(at);
        cells[at] = 0;
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
