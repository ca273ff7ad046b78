import type { SessionRecord } from '../session-record.js';
import { grownRows, movedRows } from './slot-rows.js';

// The times of a slot, side by side in one Float64Array: they need a double each (milliseconds since 1970 do not
// fit a small integer, and a JS object would box each of them in a heap number of its own). The slot's smaller
// numbers are Int32, in SlotNumbers.
const CREATED = 0;
const LAST_SEEN = 1;
const IDLE = 2;
const ABSOLUTE = 3;
const COLUMNS = 4;

/**
 * Creation, last activity, idle and absolute expiry of the slots of a SlotTable, thirty-two bytes a slot. Slot
 * numbers are the table's; it grows and compacts this with its other columns.
 */
export class SlotTimes {
  private values: Float64Array;

  constructor(capacity: number) {
    this.values = new Float64Array(capacity * COLUMNS);
  }

  /** Stores the times of `record` in `slot`. */
  put(slot: number, record: SessionRecord): void {
    const at = slot * COLUMNS;
    const values = this.values;
    values[at + CREATED] = record.createdAt;
    values[at + LAST_SEEN] = record.lastSeenAt;
    values[at + IDLE] = record.idleExpiresAt;
    values[at + ABSOLUTE] = record.absoluteExpiresAt;
  }

  createdAt(slot: number): number {
    return this.values[slot * COLUMNS + CREATED];
  }

  lastSeenAt(slot: number): number {
    return this.values[slot * COLUMNS + LAST_SEEN];
  }

  idleExpiresAt(slot: number): number {
    return this.values[slot * COLUMNS + IDLE];
  }

  absoluteExpiresAt(slot: number): number {
    return this.values[slot * COLUMNS + ABSOLUTE];
  }

  /** The moment the session stops being valid (as `expiresAt` of its record). */
  expiresAt(slot: number): number {
    const at = slot * COLUMNS;
    return Math.min(this.values[at + IDLE], this.values[at + ABSOLUTE]);
  }

  touch(slot: number, lastSeenAt: number, idleExpiresAt: number): void {
    const at = slot * COLUMNS;
    this.values[at + LAST_SEEN] = lastSeenAt;
    this.values[at + IDLE] = idleExpiresAt;
  }

  /** Room for `capacity` slots, the times of the slots so far kept. */
  grow(capacity: number): void {
    this.values = grownRows(this.values, new Float64Array(capacity * COLUMNS));
  }

  /** Moves every slot to its new number (`renumber`: see {@link movedRows}) in columns sized for `capacity` slots. */
  compact(renumber: Int32Array, capacity: number): void {
    this.values = movedRows(this.values, new Float64Array(capacity * COLUMNS), renumber, COLUMNS);
  }
}
