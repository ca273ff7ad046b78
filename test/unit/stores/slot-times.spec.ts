import type { SessionRecord } from '../../../lib/stores/session-record.js';
import { NO_SLOT } from '../../../lib/stores/memory/slot-list.js';
import { SlotTimes } from '../../../lib/stores/memory/slot-times.js';

const CREATED = 1_700_000_000_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A record whose four times all differ, derived from `n`, so that a swapped column shows. */
function recordOf(n: number): SessionRecord {
  const createdAt = CREATED + n * HOUR + 0.5;
  return {
    epoch: 0,
    createdAt,
    lastSeenAt: createdAt + 1,
    idleExpiresAt: createdAt + 2 * HOUR,
    absoluteExpiresAt: createdAt + 3 * HOUR,
    data: {},
  };
}

function timesOf(times: SlotTimes, slot: number): number[] {
  return [times.createdAt(slot), times.lastSeenAt(slot), times.idleExpiresAt(slot), times.absoluteExpiresAt(slot)];
}

function expected(record: SessionRecord): number[] {
  return [record.createdAt, record.lastSeenAt, record.idleExpiresAt, record.absoluteExpiresAt];
}

/** A record with `createdAt` and the same `time` as its last activity, idle and absolute expiry. */
function timed(createdAt: number, time: number): SessionRecord {
  return { epoch: 0, createdAt, lastSeenAt: time, idleExpiresAt: time, absoluteExpiresAt: time, data: {} };
}

/** [createdAt, a later time, whether an offset cannot hold it]. */
const CASES: Array<[createdAt: number, time: number, wide: boolean]> = [
  [CREATED, CREATED, false],
  // Milliseconds up to 3 * 2 ** 30 - 1 after creation (37.3 days): the default 30-day session to the millisecond.
  [CREATED, CREATED + 20 * DAY + 1, false],
  [CREATED, CREATED + 30 * DAY + 1, false],
  [CREATED, CREATED + 3 * 2 ** 30 - 1, false],
  // Past that, whole seconds only: an absolute expiry 90 or 400 days out.
  [CREATED, CREATED + 90 * DAY, false],
  [CREATED, CREATED + 400 * DAY, false],
  [CREATED, CREATED + 3_221_226_000, false],
  [CREATED, CREATED + 3 * 2 ** 30, true],
  [CREATED, CREATED + 40 * DAY + 1, true],
  // The last second the tier holds, and the next one, whose offset would be the sentinel itself.
  [CREATED, CREATED + (2 ** 30 - 2) * 1000, false],
  [CREATED, CREATED + (2 ** 30 - 1) * 1000, true],
  // Before creation, fractions, values that are not times.
  [CREATED, CREATED - 1, true],
  [CREATED, CREATED + 0.5, true],
  [CREATED + 0.25, CREATED + 1000.25, false],
  [0.1, 0.3, true],
  [0, -0, true],
  [CREATED, Number.NaN, true],
  [CREATED, Number.POSITIVE_INFINITY, true],
  [Number.NaN, CREATED, true],
];

describe('SlotTimes', () => {
  it('gives back the four times of each slot exactly, fractions included', () => {
    const times = new SlotTimes(8);
    for (let slot = 0; slot < 8; slot++) times.put(slot, recordOf(slot));
    for (let slot = 0; slot < 8; slot++) expect(timesOf(times, slot)).toEqual(expected(recordOf(slot)));
  });

  it('expires a slot at the earlier of its idle and absolute expiry', () => {
    const times = new SlotTimes(2);
    times.put(0, recordOf(0));
    times.put(1, { ...recordOf(1), idleExpiresAt: CREATED + 10 * HOUR, absoluteExpiresAt: CREATED + 5 * HOUR });
    expect(times.expiresAt(0)).toBe(recordOf(0).idleExpiresAt);
    expect(times.expiresAt(1)).toBe(CREATED + 5 * HOUR);
  });

  it('touch moves the last activity and the idle expiry only', () => {
    const times = new SlotTimes(2);
    times.put(0, recordOf(0));
    times.put(1, recordOf(1));
    times.touch(0, CREATED + 7, CREATED + 8);
    expect(timesOf(times, 0)).toEqual([recordOf(0).createdAt, CREATED + 7, CREATED + 8, recordOf(0).absoluteExpiresAt]);
    expect(timesOf(times, 1)).toEqual(expected(recordOf(1)));
  });

  it('keeps every slot through growth', () => {
    const times = new SlotTimes(4);
    for (let slot = 0; slot < 4; slot++) times.put(slot, recordOf(slot));
    times.grow(9);
    for (let slot = 4; slot < 9; slot++) times.put(slot, recordOf(slot));
    for (let slot = 0; slot < 9; slot++) expect(timesOf(times, slot)).toEqual(expected(recordOf(slot)));
  });

  it('moves each kept slot to its new number on compaction and drops the others', () => {
    const times = new SlotTimes(6);
    for (let slot = 0; slot < 6; slot++) times.put(slot, recordOf(slot));
    // Slots 1, 3 and 4 go; 0, 2 and 5 become 0, 1 and 2.
    const renumber = Int32Array.from([0, NO_SLOT, 1, NO_SLOT, NO_SLOT, 2]);
    times.compact(renumber, 3);
    expect(timesOf(times, 0)).toEqual(expected(recordOf(0)));
    expect(timesOf(times, 1)).toEqual(expected(recordOf(2)));
    expect(timesOf(times, 2)).toEqual(expected(recordOf(5)));
    // The compacted columns hold three slots: a fourth reads past their end.
    expect(times.createdAt(3)).toBeUndefined();
  });

  it('gives back every time exactly, keeping only those an offset cannot hold in the side map', () => {
    const times = new SlotTimes(CASES.length);
    CASES.forEach(([createdAt, time], slot) => times.put(slot, timed(createdAt, time)));
    CASES.forEach(([createdAt, time], slot) => {
      // Object.is, so that -0 must come back as -0 and NaN as NaN.
      timesOf(times, slot).forEach((got, column) => expect([slot, Object.is(got, column === 0 ? createdAt : time)]).toEqual([slot, true]));
    });
    expect(times.wideCount).toBe(3 * CASES.filter(([, , wide]) => wide).length);
  });

  it('gives the earlier of the idle and absolute expiry, whichever of them is in the side map', () => {
    const times = new SlotTimes(3);
    times.put(0, { ...timed(CREATED, CREATED), idleExpiresAt: CREATED + 0.5, absoluteExpiresAt: CREATED + 30 * DAY });
    times.put(1, { ...timed(CREATED, CREATED), idleExpiresAt: CREATED + DAY, absoluteExpiresAt: CREATED - 5 });
    times.put(2, { ...timed(CREATED, CREATED), idleExpiresAt: CREATED + DAY, absoluteExpiresAt: CREATED + 30 * DAY });
    expect([times.expiresAt(0), times.expiresAt(1), times.expiresAt(2)]).toEqual([CREATED + 0.5, CREATED - 5, CREATED + DAY]);
  });

  it('drops a side value once a touch brings the time within an offset again, and keeps one that does not fit', () => {
    const times = new SlotTimes(1);
    times.put(0, timed(CREATED, CREATED + 0.5));
    expect(times.wideCount).toBe(3);
    times.touch(0, CREATED + 60_000, CREATED + 60_000 + DAY);
    expect(times.wideCount).toBe(1);
    expect(timesOf(times, 0)).toEqual([CREATED, CREATED + 60_000, CREATED + 60_000 + DAY, CREATED + 0.5]);
    times.touch(0, CREATED + 38 * DAY + 7, CREATED + 39 * DAY + 7);
    expect(times.wideCount).toBe(3);
    expect(timesOf(times, 0)).toEqual([CREATED, CREATED + 38 * DAY + 7, CREATED + 39 * DAY + 7, CREATED + 0.5]);
  });

  it('drops the side values of a released slot, and the slot starts clean when reused', () => {
    const times = new SlotTimes(2);
    times.put(0, timed(CREATED, CREATED - 1));
    times.put(1, timed(CREATED, CREATED + 0.5));
    times.release(0);
    expect(times.wideCount).toBe(3);
    times.put(0, timed(CREATED + 5, CREATED + 10));
    expect(times.wideCount).toBe(3);
    expect(timesOf(times, 0)).toEqual([CREATED + 5, CREATED + 10, CREATED + 10, CREATED + 10]);
    expect(timesOf(times, 1)).toEqual([CREATED, CREATED + 0.5, CREATED + 0.5, CREATED + 0.5]);
  });

  it('keeps offsets and side values as it grows', () => {
    const times = new SlotTimes(1);
    // Every third slot's times are 40 days and a millisecond after its creation: in the side map.
    const timeOf = (slot: number) => CREATED + slot + (slot % 3 ? slot * 1000 : 40 * DAY + 1);
    for (let slot = 0; slot < 100; slot++) {
      if (slot > 0) times.grow(slot + 1);
      times.put(slot, timed(CREATED + slot, timeOf(slot)));
    }
    for (let slot = 0; slot < 100; slot++) expect(timesOf(times, slot)).toEqual([CREATED + slot, ...Array(3).fill(timeOf(slot))]);
    expect(times.wideCount).toBe(3 * 34);
  });

  it('moves offsets and side values to their new slots on compaction and drops those of dropped slots', () => {
    const times = new SlotTimes(6);
    // An odd slot's times are half a millisecond after its creation (in the side map), an even one's 30 days.
    const timeOf = (slot: number) => CREATED + slot + (slot % 2 ? 0.5 : 30 * DAY);
    for (let slot = 0; slot < 6; slot++) times.put(slot, timed(CREATED + slot, timeOf(slot)));
    // Slots 1 and 4 dropped as compact finds them: not released first, their side values must not survive.
    const renumber = Int32Array.from([0, NO_SLOT, 1, 2, NO_SLOT, 3]);
    times.compact(renumber, 4);
    [0, 2, 3, 5].forEach((from, to) => expect(timesOf(times, to)).toEqual([CREATED + from, ...Array(3).fill(timeOf(from))]));
    // Slots 3 and 5 kept, three wide times each.
    expect(times.wideCount).toBe(6);
  });
});
