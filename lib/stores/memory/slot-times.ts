import type { SessionRecord } from '../session-record.js';
import { grownRows, movedRows } from './slot-rows.js';
import { WideColumn } from './wide-column.js';

// A slot's creation time is a double (milliseconds since 1970 do not fit 32 bits); its three other times are counted
// from it, 32 bits each, so that a slot costs twenty bytes instead of thirty-two.
const LAST_SEEN = 0;
const IDLE = 1;
const ABSOLUTE = 2;
const OFFSETS = 3;

/**
 * Offsets below this are milliseconds: up to about 37.3 days after creation, to the millisecond, so that a session
 * of the default 30 days takes no side entry; from it up, whole seconds.
 */
const SECONDS_TIER = 3 * 2 ** 30;
/** "The exact time is in the side map": never an offset of its own. */
const WIDE = 2 ** 32 - 1;
const SECOND = 1000;

/**
 * The 32-bit offset that gives `time` back exactly from `createdAt`, or {@link WIDE}: milliseconds up to about 37.3
 * days; past that, whole seconds (a timeout is set in seconds, so an absolute expiry 90 or 400 days out is one) up to
 * about 34 years; anything else (before creation, a fraction, a time the sum would not give back) goes to the side
 * map.
 */
function offsetOf(createdAt: number, time: number): number {
  const offset = time - createdAt;
  let stored: number;
  if (Number.isInteger(offset) && offset >= 0 && offset < SECONDS_TIER) stored = offset;
  else if (offset % SECOND === 0 && offset > 0 && offset / SECOND < WIDE - SECONDS_TIER) stored = SECONDS_TIER + offset / SECOND;
  else return WIDE;
  // Checked by adding back: with fractional or huge times the difference may not give the same sum again (or -0).
  return Object.is(timeAt(createdAt, stored), time) ? stored : WIDE;
}

function timeAt(createdAt: number, stored: number): number {
  return stored < SECONDS_TIER ? createdAt + stored : createdAt + (stored - SECONDS_TIER) * SECOND;
}

/**
 * Creation, last activity, idle and absolute expiry of the slots of a SlotTable, twenty bytes a slot, every time
 * given back exactly. Slot numbers are the table's; it grows, releases and compacts this with its other columns.
 */
export class SlotTimes {
  private created: Float64Array;
  /** Each slot's three other times, as offsets from its creation (see {@link offsetOf}), or {@link WIDE}. */
  private readonly offsets: WideColumn<Uint32Array>;

  constructor(capacity: number) {
    this.created = new Float64Array(capacity);
    this.offsets = new WideColumn(Uint32Array, capacity, OFFSETS, WIDE);
  }

  /** How many times are held in the side map: what the rare wide ones cost. */
  get wideCount(): number {
    return this.offsets.wideCount;
  }

  /** Stores the times of `record` in `slot` (a new one, or one released since it was last used). */
  put(slot: number, record: SessionRecord): void {
    this.created[slot] = record.createdAt;
    this.set(slot, LAST_SEEN, record.lastSeenAt);
    this.set(slot, IDLE, record.idleExpiresAt);
    this.set(slot, ABSOLUTE, record.absoluteExpiresAt);
  }

  createdAt(slot: number): number {
    return this.created[slot];
  }

  lastSeenAt(slot: number): number {
    return this.get(slot, LAST_SEEN);
  }

  idleExpiresAt(slot: number): number {
    return this.get(slot, IDLE);
  }

  absoluteExpiresAt(slot: number): number {
    return this.get(slot, ABSOLUTE);
  }

  /** The moment the session stops being valid (as `expiresAt` of its record). */
  expiresAt(slot: number): number {
    return Math.min(this.get(slot, IDLE), this.get(slot, ABSOLUTE));
  }

  touch(slot: number, lastSeenAt: number, idleExpiresAt: number): void {
    this.set(slot, LAST_SEEN, lastSeenAt);
    this.set(slot, IDLE, idleExpiresAt);
  }

  /** Drops the side values of a slot that was freed. */
  release(slot: number): void {
    this.offsets.release(slot);
  }

  /** Room for `capacity` slots, the times of the slots so far kept. */
  grow(capacity: number): void {
    this.created = grownRows(this.created, new Float64Array(capacity));
    this.offsets.grow(capacity);
  }

  /** Moves every slot to its new number (`renumber`: see {@link movedRows}) in columns sized for `capacity` slots. */
  compact(renumber: Int32Array, capacity: number): void {
    this.created = movedRows(this.created, new Float64Array(capacity), renumber, 1);
    this.offsets.compact(renumber, capacity);
  }

  private get(slot: number, column: number): number {
    const at = slot * OFFSETS + column;
    const stored = this.offsets.stored(at);
    return stored === WIDE ? this.offsets.wideValue(at) : timeAt(this.created[slot], stored);
  }

  /** Writes `time` as an offset, or in the side map when no offset holds it. */
  private set(slot: number, column: number, time: number): void {
    this.offsets.write(slot * OFFSETS + column, offsetOf(this.created[slot], time), time);
  }
}
