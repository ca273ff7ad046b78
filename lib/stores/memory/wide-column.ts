import { NO_SLOT } from './slot-list.js';
import { grownRows, movedRows } from './slot-rows.js';

/** The typed arrays a {@link WideColumn} can keep its cells in. */
type Cells = Int32Array | Uint32Array;

/** The constructor of such an array (`Int32Array`, `Uint32Array`), called with its length. */
type CellsKind<C extends Cells> = new (length: number) => C;

/**
 * A typed slot column, `width` cells a slot (cell `slot * width + column`), that loses no value. A cell holds the
 * owner's encoding of its value (the value itself, an offset), or `sentinel` when no encoding fits: a number past an
 * Int32, a fractional time. Then the exact value is kept in a side map, which costs the other slots nothing since such
 * values are rare.
 */
export class WideColumn<C extends Cells> {
  private cells: C;
  /** Cell -> exact value, for the cells that hold the sentinel. */
  private wide = new Map<number, number>();

  /**
   * @param kind the typed array the cells are kept in.
   * @param capacity the slots it has room for.
   * @param width the cells a slot has.
   * @param sentinel what a cell holds when its value is in the side map: never an encoding of its own.
   */
  constructor(
    private readonly kind: CellsKind<C>,
    capacity: number,
    private readonly width: number,
    private readonly sentinel: number,
  ) {
    this.cells = new kind(capacity * width);
  }

  /** How many values are in the side map: what the rare wide ones cost. */
  get wideCount(): number {
    return this.wide.size;
  }

  /** What cell `at` holds: the owner's encoding of its value, or the sentinel. */
  stored(at: number): number {
    return this.cells[at];
  }

  /** The exact value of a cell that holds the sentinel: it is always in the side map. */
  wideValue(at: number): number {
    return this.wide.get(at)!;
  }

  /**
   * Writes `stored` into cell `at`, and `exact` in the side map when `stored` is the sentinel; forgets the cell's
   * earlier side value when it no longer needs one.
   */
  write(at: number, stored: number, exact: number): void {
    if (stored === this.sentinel) this.wide.set(at, exact);
    else if (this.cells[at] === this.sentinel) this.wide.delete(at);
    this.cells[at] = stored;
  }

  /** Drops the side values of a freed slot: each of its cells that holds the sentinel is set to 0. */
  release(slot: number): void {
    // A sentinel in a cell always has its value in the map: with none there, no cell holds one.
    if (this.wide.size === 0) return;
    for (let at = slot * this.width; at < (slot + 1) * this.width; at++) {
      if (this.cells[at] === this.sentinel) {
        this.wide.delete(at);
        this.cells[at] = 0;
      }
    }
  }

  /** Room for `capacity` slots, every slot kept. */
  grow(capacity: number): void {
    this.cells = grownRows(this.cells, new this.kind(capacity * this.width));
  }

  /**
   * Moves each slot `renumber` keeps to its new number, with its side values, in room for `capacity` slots; drops the
   * others (`renumber`: see SlotTable.compact).
   */
  compact(renumber: Int32Array, capacity: number): void {
    this.cells = movedRows(this.cells, new this.kind(capacity * this.width), renumber, this.width);
    const wide = new Map<number, number>();
    for (const [at, value] of this.wide) {
      const moved = renumber[Math.floor(at / this.width)];
      if (moved !== NO_SLOT) wide.set(moved * this.width + (at % this.width), value);
    }
    this.wide = wide;
  }
}
