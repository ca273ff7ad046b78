import { NO_SLOT } from './slot-list.js';

/** A typed column of a SlotTable: `width` numbers a slot, side by side. */
type Rows = Uint8Array | Int32Array | Uint32Array | Float64Array;

/** `to` (the larger column of a growing table) holding `from`'s rows at the same slots. */
export function grownRows<T extends Rows>(from: T, to: T): T {
  to.set(from);
  return to;
}

/**
 * `to` (a compacted column) holding each row of `from` that `renumber` keeps at its new slot: `renumber` maps an old
 * slot to its new one, or to {@link NO_SLOT} for a dropped one, as SlotTable.compact reports it.
 */
export function movedRows<T extends Rows>(from: T, to: T, renumber: Int32Array, width: number): T {
  for (let slot = 0; slot < renumber.length; slot++) {
    const moved = renumber[slot];
    if (moved === NO_SLOT) continue;
    for (let i = 0; i < width; i++) to[moved * width + i] = from[slot * width + i];
  }
  return to;
}
