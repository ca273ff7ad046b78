import type { SessionRecord } from '../../../lib/stores/session-record.js';
import { NO_LIST, NO_SLOT, SlotLists } from '../../../lib/stores/memory/slot-list.js';
import { SlotTable } from '../../../lib/stores/memory/slot-table.js';

const DAY = 86_400_000;
/** Owner numbers as MemoryUsers hands them out: 0 is alice, 1 is bob. */
const ALICE = 0;
const OWNERS = { idOf: (owner: number) => ['alice', 'bob'][owner]! };

function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    epoch: 0,
    createdAt: 1_700_000_000_000,
    lastSeenAt: 1_700_000_000_001,
    idleExpiresAt: 1_700_000_003_600,
    absoluteExpiresAt: 1_700_002_592_000,
    data: {},
    ...overrides,
  };
}

/** Allocates a session under `key` and links it into list `list` of `lists` (if given). */
function put(table: SlotTable, key: string, owner = NO_LIST, lists?: SlotLists, list = 0): number {
  const slot = table.allocate(key, owner, record(), undefined, undefined);
  if (lists !== undefined) table.append(lists, list, slot);
  return slot;
}

describe('SlotTable', () => {
  it('gives back a record equal to the one stored, numbers exact', () => {
    const table = new SlotTable(OWNERS);
    const stored = record({
      epoch: 2 ** 40,
      createdAt: 1_700_000_000_000.5,
      lastSeenAt: Number.MAX_SAFE_INTEGER,
      idleExpiresAt: 0,
      absoluteExpiresAt: 8.64e15,
      actorId: 'root',
      actorEpoch: 7,
    });
    const slot = table.allocate('k', ALICE, { ...stored, data: { 's:a': '1' } }, '192.0.2.1', 'agent');
    expect(table.record(slot)).toEqual({ ...stored, userId: 'alice', ip: '192.0.2.1', userAgent: 'agent', data: { 's:a': '1' } });
    expect(table.key(slot)).toBe('k');
    expect(table.owner(slot)).toBe(ALICE);
    expect(table.epoch(slot)).toBe(2 ** 40);
    expect(table.createdAt(slot)).toBe(1_700_000_000_000.5);
    expect(table.expiresAt(slot)).toBe(0);
  });

  it('gives back epochs and authenticatedAt exactly, whether an Int32 holds them or not', () => {
    const table = new SlotTable(OWNERS);
    const created = record().createdAt;
    const stored = [
      ...[0, 2 ** 31 - 1, 2 ** 31, -1, 1.5, 2 ** 53].map((epoch) => record({ epoch })),
      record({ authenticatedAt: created }),
      record({ authenticatedAt: created + 30 * DAY }),
      record({ authenticatedAt: created - 40 * DAY }),
      record({ authenticatedAt: created + 1234.5 }),
      record({ createdAt: 0.1, authenticatedAt: 0.3 }),
    ];
    const slots = stored.map((one, i) => table.allocate(`k${i}`, NO_LIST, one, undefined, undefined));
    slots.forEach((slot, i) => {
      expect(table.record(slot)).toStrictEqual(stored[i]);
      expect(table.epoch(slot)).toBe(stored[i]!.epoch);
    });
    expect(Object.keys(table.record(slots[0]!))).not.toContain('authenticatedAt');
  });

  it('carries a session into an epoch an Int32 cannot hold and back', () => {
    const table = new SlotTable(OWNERS);
    const slot = put(table, 'k');
    table.setEpoch(slot, 2 ** 31);
    expect(table.record(slot).epoch).toBe(2 ** 31);
    table.setEpoch(slot, 7);
    expect(table.epoch(slot)).toBe(7);
  });

  it('keeps due seconds past 2038 and past 2106', () => {
    const table = new SlotTable(OWNERS);
    const [a, b, c] = [put(table, 'a'), put(table, 'b'), put(table, 'c')];
    table.setDueSecond(a, 2 ** 31 + 100);
    table.setDueSecond(b, 2 ** 32 + 100);
    table.setDueSecond(c, 1_700_000_000);
    expect([table.dueSecond(a), table.dueSecond(b), table.dueSecond(c)]).toEqual([2 ** 31 + 100, 2 ** 32 + 100, 1_700_000_000]);
  });

  it('leaves out what an anonymous session without address or User-Agent does not have', () => {
    const table = new SlotTable(OWNERS);
    const read = table.record(table.allocate('k', NO_LIST, record(), undefined, undefined));
    expect(Object.keys(read).sort()).toEqual(['absoluteExpiresAt', 'createdAt', 'data', 'epoch', 'idleExpiresAt', 'lastSeenAt']);
    expect(read.data).toEqual({});
  });

  it('hands out a new record with its own data on every read', () => {
    const table = new SlotTable(OWNERS);
    const slot = table.allocate('k', NO_LIST, record({ data: { 'b:a': '1' } }), undefined, undefined);
    const first = table.record(slot);
    first.data['b:b'] = '2';
    first.lastSeenAt = 0;
    const second = table.record(slot);
    expect(second).not.toBe(first);
    expect(second.data).toEqual({ 'b:a': '1' });
    expect(second.lastSeenAt).toBe(record().lastSeenAt);
  });

  it('moves lastSeenAt and the idle expiry on touch, and keeps the due second apart', () => {
    const table = new SlotTable(OWNERS);
    const slot = put(table, 'k');
    table.touch(slot, 5, 1_700_000_100_000);
    table.setDueSecond(slot, 1_700_000_100);
    expect(table.record(slot)).toMatchObject({ lastSeenAt: 5, idleExpiresAt: 1_700_000_100_000 });
    expect(table.expiresAt(slot)).toBe(1_700_000_100_000);
    expect(table.dueSecond(slot)).toBe(1_700_000_100);
  });

  it('reuses the last freed slot first, and a reused slot starts clean', () => {
    const table = new SlotTable(OWNERS);
    const a = table.allocate(
      'a',
      ALICE,
      record({ epoch: 2 ** 40, authenticatedAt: 5, browserSessionCookie: true, actorId: 'root', data: { 's:a': '1' } }),
      '192.0.2.1',
      'agent',
    );
    const b = put(table, 'b');
    const c = put(table, 'c');
    table.release(a);
    table.release(c);
    expect(table.size).toBe(1);
    expect(table.isOccupied(a)).toBe(false);
    expect(table.key(a)).toBeUndefined();
    expect(put(table, 'd')).toBe(c);
    const e = put(table, 'e');
    expect(e).toBe(a);
    expect(table.owner(e)).toBe(NO_LIST);
    expect(table.record(e)).toStrictEqual(record());
    expect(put(table, 'f')).toBe(3);
    expect(table.highWater).toBe(4);
    expect(table.isOccupied(b)).toBe(true);
  });

  it('keeps every value as it grows far past its first capacity', () => {
    const table = new SlotTable(OWNERS);
    const lists = new SlotLists(1);
    for (let i = 0; i < 10_000; i++) {
      // Every seventh with numbers an Int32 cannot hold.
      const wide = i % 7 === 0;
      const stored = record({ epoch: wide ? 2 ** 32 + i : i, createdAt: i, authenticatedAt: wide ? i + 40 * DAY : i + 1 });
      const slot = table.allocate(`k${i}`, NO_LIST, stored, undefined, undefined);
      table.setDueSecond(slot, wide ? 2 ** 33 + i : 1_700_000_000 + i);
      table.append(lists, 0, slot);
    }
    for (let slot = 0; slot < 10_000; slot++) expect(table.createdAt(slot)).toBe(slot);
    for (let slot = 0; slot < 10_000; slot += 997) {
      const wide = slot % 7 === 0;
      expect(table.record(slot)).toMatchObject({ epoch: wide ? 2 ** 32 + slot : slot, authenticatedAt: wide ? slot + 40 * DAY : slot + 1 });
      expect(table.dueSecond(slot)).toBe(wide ? 2 ** 33 + slot : 1_700_000_000 + slot);
    }
    expect(table.keysOf(lists, 0)).toEqual(Array.from({ length: 10_000 }, (_, i) => `k${i}`));
  });

  describe('lists', () => {
    it('keep the order of appends through unlinks at the head, in the middle and at the tail', () => {
      const table = new SlotTable(OWNERS);
      const lists = new SlotLists(1);
      const slots = ['a', 'b', 'c', 'd', 'e'].map((key) => put(table, key, NO_LIST, lists));
      expect(table.keysOf(lists, 0)).toEqual(['a', 'b', 'c', 'd', 'e']);
      table.unlink(lists, 0, slots[2]!);
      table.unlink(lists, 0, slots[0]!);
      table.unlink(lists, 0, slots[4]!);
      expect(table.keysOf(lists, 0)).toEqual(['b', 'd']);
      table.unlink(lists, 0, slots[1]!);
      table.unlink(lists, 0, slots[3]!);
      expect(lists.head(0)).toBe(NO_SLOT);
      expect(table.keysOf(lists, 0)).toEqual([]);
      table.append(lists, 0, slots[3]!);
      expect(table.keysOf(lists, 0)).toEqual(['d']);
    });

    it('thread through one table without mixing', () => {
      const table = new SlotTable(OWNERS);
      const lists = new SlotLists(3);
      for (let i = 0; i < 6; i++) put(table, `k${i}`, NO_LIST, lists, i % 2 ? 1 : 2);
      expect(table.keysOf(lists, 1)).toEqual(['k1', 'k3', 'k5']);
      expect(table.keysOf(lists, 2)).toEqual(['k0', 'k2', 'k4']);
      expect(table.keysOf(lists, 0)).toEqual([]);
    });
  });

  describe('compaction', () => {
    it('is wanted only once most of many slots are free', () => {
      const table = new SlotTable(OWNERS);
      const slots = Array.from({ length: 5000 }, (_, i) => put(table, `k${i}`));
      expect(table.isSparse()).toBe(false);
      for (const slot of slots.slice(0, 3749)) table.release(slot);
      expect(table.isSparse()).toBe(false);
      table.release(slots[3749]!);
      expect(table.isSparse()).toBe(true);
      const small = new SlotTable(OWNERS);
      small.release(put(small, 'k'));
      expect(small.isSparse()).toBe(false);
    });

    it('moves the sessions down in order, renumbers the links and reports the renumbering', () => {
      const table = new SlotTable(OWNERS);
      const lists = new SlotLists(2);
      const [users, anonymous] = [ALICE, 1];
      const slots: number[] = [];
      for (let i = 0; i < 200; i++) {
        const slot = table.allocate(
          `k${i}`,
          i % 2 ? ALICE : NO_LIST,
          {
            ...(i % 5
              ? record({ createdAt: i, epoch: i % 3 ? i : 2 ** 31 + i })
              : record({ createdAt: i, authenticatedAt: i + 0.5, browserSessionCookie: true })),
            data: i % 3 ? {} : { 's:i': String(i) },
          },
          `ip${i}`,
          undefined,
        );
        table.setDueSecond(slot, i % 7 ? 1000 + i : 2 ** 33 + i);
        table.append(lists, i % 2 ? users : anonymous, slot);
        slots.push(slot);
      }
      for (let i = 0; i < 200; i++) {
        if (i % 4 !== 0 && i % 4 !== 1) {
          table.unlink(lists, i % 2 ? users : anonymous, slots[i]!);
          table.release(slots[i]!);
        }
      }
      const before = new Map(slots.filter((slot) => table.isOccupied(slot)).map((slot) => [table.key(slot), table.record(slot)]));
      const renumber = table.compact();
      lists.renumber(users, renumber);
      lists.renumber(anonymous, renumber);

      expect(table.size).toBe(100);
      expect(table.highWater).toBe(100);
      expect(renumber[2]).toBe(NO_SLOT);
      expect(renumber[4]).toBe(2);
      for (let i = 0; i < 200; i++) {
        const to = renumber[slots[i]!]!;
        if (i % 4 > 1) continue;
        expect(table.key(to)).toBe(`k${i}`);
        expect(table.record(to)).toEqual(before.get(`k${i}`));
        expect(table.dueSecond(to)).toBe(i % 7 ? 1000 + i : 2 ** 33 + i);
      }
      const kept = (remainder: number) => Array.from({ length: 50 }, (_, j) => `k${4 * j + remainder}`);
      expect(table.keysOf(lists, anonymous)).toEqual(kept(0));
      expect(table.keysOf(lists, users)).toEqual(kept(1));
      // Slots after compaction are handed out from the end, and lists go on from where they were.
      const slot = put(table, 'new', ALICE, lists, users);
      expect(slot).toBe(100);
      expect(table.keysOf(lists, users)).toEqual([...kept(1), 'new']);
      expect(table.record(slot).userId).toBe('alice');
      expect(table.owner(renumber[slots[1]!]!)).toBe(ALICE);
      expect(table.owner(renumber[slots[0]!]!)).toBe(NO_LIST);
    });

    it('leaves an empty table usable', () => {
      const table = new SlotTable(OWNERS);
      const lists = new SlotLists(1);
      const slots = Array.from({ length: 100 }, (_, i) => put(table, `k${i}`, NO_LIST, lists));
      for (const slot of slots) {
        table.unlink(lists, 0, slot);
        table.release(slot);
      }
      table.compact();
      lists.renumber(0, new Int32Array(0));
      expect(table.size).toBe(0);
      expect(put(table, 'again', NO_LIST, lists)).toBe(0);
      expect(table.keysOf(lists, 0)).toEqual(['again']);
    });
  });
});
