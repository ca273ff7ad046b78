import type { SessionRecord } from '../../../lib/stores/session-record.js';
import { NO_SLOT } from '../../../lib/stores/memory/slot-list.js';
import { SlotTimes } from '../../../lib/stores/memory/slot-times.js';

const CREATED = 1_700_000_000_000;
const HOUR = 3_600_000;

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
});
