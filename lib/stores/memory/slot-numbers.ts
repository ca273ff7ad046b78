import { WideColumn } from './wide-column.js';

// The three small numbers of a slot, as Int32 side by side: four bytes each instead of a double's eight, and still
// exact for any number a caller may store, since one that an Int32 cannot hold goes to a side map (rare enough to
// cost the others nothing).
const EPOCH = 0;
/** Seconds from the base second, so that dates past 2038 still fit. */
const DUE = 1;
/** Milliseconds from the record's `createdAt`: 0 for a fresh login, within about 24.8 days either way otherwise. */
const AUTHENTICATED = 2;
const COLUMNS = 3;

/** "The exact value is in the column's side map": never a value of its own. */
const WIDE = -(2 ** 31);
/** A record without `authenticatedAt` (its own value so that the common case takes no map entry). */
const ABSENT = WIDE + 1;
/** The lowest value kept inline: the two above are reserved in every column. */
const LOWEST = WIDE + 2;

const SECOND = 1000;

/** Whether `value` is kept inline as itself: an Int32 that is no sentinel (and not -0, which an Int32 would lose). */
function inline(value: number): boolean {
  return (value | 0) === value && value >= LOWEST && !Object.is(value, -0);
}

/**
 * Epoch, due second and authentication time of the slots of a SlotTable, twelve bytes a slot. Slot numbers are the
 * table's; it grows and compacts this with its other columns.
 */
export class SlotNumbers {
  /** The numbers, inline or {@link WIDE} for those an Int32 cannot hold. */
  private readonly values: WideColumn<Int32Array>;
  /** The second that a due second is counted from: within 68 years of it, a due second fits an Int32. */
  private readonly baseSecond: number;

  constructor(capacity: number, baseSecond = Math.floor(Date.now() / SECOND)) {
    this.values = new WideColumn(Int32Array, capacity, COLUMNS, WIDE);
    this.baseSecond = baseSecond;
  }

  /** How many values are held in the side map: what the rare wide values cost. */
  get wideCount(): number {
    return this.values.wideCount;
  }

  /** Stores the numbers of a session just put in `slot` (its due second comes later, from the expiry). */
  put(slot: number, epoch: number, createdAt: number, authenticatedAt: number | undefined): void {
    this.setEpoch(slot, epoch);
    this.setAuthenticatedAt(slot, createdAt, authenticatedAt);
  }

  epoch(slot: number): number {
    return this.get(slot * COLUMNS + EPOCH);
  }

  setEpoch(slot: number, epoch: number): void {
    this.values.write(slot * COLUMNS + EPOCH, inline(epoch) ? epoch : WIDE, epoch);
  }

  dueSecond(slot: number): number {
    const at = slot * COLUMNS + DUE;
    const offset = this.values.stored(at);
    return offset === WIDE ? this.values.wideValue(at) : this.baseSecond + offset;
  }

  setDueSecond(slot: number, second: number): void {
    const offset = second - this.baseSecond;
    this.values.write(slot * COLUMNS + DUE, inline(offset) && this.baseSecond + offset === second ? offset : WIDE, second);
  }

  /** The session's `authenticatedAt`, given its `createdAt`; undefined when its record has none. */
  authenticatedAt(slot: number, createdAt: number): number | undefined {
    const at = slot * COLUMNS + AUTHENTICATED;
    const offset = this.values.stored(at);
    if (offset === ABSENT) return undefined;
    return offset === WIDE ? this.values.wideValue(at) : createdAt + offset;
  }

  setAuthenticatedAt(slot: number, createdAt: number, authenticatedAt: number | undefined): void {
    const at = slot * COLUMNS + AUTHENTICATED;
    if (authenticatedAt === undefined) {
      this.values.write(at, ABSENT, 0);
      return;
    }
    const offset = authenticatedAt - createdAt;
    // Checked by adding back: with fractional times the difference may not give the same sum again.
    this.values.write(at, inline(offset) && Object.is(createdAt + offset, authenticatedAt) ? offset : WIDE, authenticatedAt);
  }

  /** Drops the side values of a slot that was freed. */
  release(slot: number): void {
    this.values.release(slot);
  }

  /** Room for `capacity` slots, the existing ones kept. */
  grow(capacity: number): void {
    this.values.grow(capacity);
  }

  /**
   * Moves every slot to its new number (`renumber`, as SlotTable.compact reports it: `NO_SLOT` for a slot that
   * is dropped) in columns of room for `capacity` slots.
   */
  compact(renumber: Int32Array, capacity: number): void {
    this.values.compact(renumber, capacity);
  }

  private get(at: number): number {
    const value = this.values.stored(at);
    return value === WIDE ? this.values.wideValue(at) : value;
  }
}
