import type { SessionRecord } from '../../../lib/stores/session-record.js';
import { emptySlotList, NO_SLOT, renumberList, type SlotList } from '../../../lib/stores/memory/slot-list.js';
import { SlotTable } from '../../../lib/stores/memory/slot-table.js';

interface Owner {
  readonly id: string;
}

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

/** Allocates a session under `key` and links it into `list` (if given). */
function put(table: SlotTable<Owner>, key: string, owner?: Owner, list?: SlotList, data?: Record<string, string>): number {
  const slot = table.allocate(key, owner, record(data === undefined ? {} : { data }), undefined, undefined);
  if (list !== undefined) table.append(list, slot);
  return slot;
}

describe('SlotTable', () => {
  it('gives back a record equal to the one stored, numbers exact', () => {
    const table = new SlotTable<Owner>();
    const alice = { id: 'alice' };
    const stored = record({
      epoch: 2 ** 40,
      createdAt: 1_700_000_000_000.5,
      lastSeenAt: Number.MAX_SAFE_INTEGER,
      idleExpiresAt: 0,
      absoluteExpiresAt: 8.64e15,
      actorId: 'root',
      actorEpoch: 7,
    });
    const slot = table.allocate('k', alice, { ...stored, data: { 's:a': '1' } }, '192.0.2.1', 'agent');
    expect(table.record(slot)).toEqual({ ...stored, userId: 'alice', ip: '192.0.2.1', userAgent: 'agent', data: { 's:a': '1' } });
    expect(table.key(slot)).toBe('k');
    expect(table.owner(slot)).toBe(alice);
    expect(table.epoch(slot)).toBe(2 ** 40);
    expect(table.createdAt(slot)).toBe(1_700_000_000_000.5);
    expect(table.expiresAt(slot)).toBe(0);
  });

  it('leaves out what an anonymous session without address or User-Agent does not have', () => {
    const table = new SlotTable<Owner>();
    const read = table.record(table.allocate('k', undefined, record(), undefined, undefined));
    expect(Object.keys(read).sort()).toEqual(['absoluteExpiresAt', 'createdAt', 'data', 'epoch', 'idleExpiresAt', 'lastSeenAt']);
    expect(read.data).toEqual({});
  });

  it('hands out a new record with its own data on every read', () => {
    const table = new SlotTable<Owner>();
    const slot = table.allocate('k', undefined, record({ data: { 'b:a': '1' } }), undefined, undefined);
    const first = table.record(slot);
    first.data['b:b'] = '2';
    first.lastSeenAt = 0;
    const second = table.record(slot);
    expect(second).not.toBe(first);
    expect(second.data).toEqual({ 'b:a': '1' });
    expect(second.lastSeenAt).toBe(record().lastSeenAt);
  });

  it('moves lastSeenAt and the idle expiry on touch, and keeps the due second apart', () => {
    const table = new SlotTable<Owner>();
    const slot = put(table, 'k');
    table.touch(slot, 5, 1_700_000_100_000);
    table.setDueSecond(slot, 1_700_000_100);
    expect(table.record(slot)).toMatchObject({ lastSeenAt: 5, idleExpiresAt: 1_700_000_100_000 });
    expect(table.expiresAt(slot)).toBe(1_700_000_100_000);
    expect(table.dueSecond(slot)).toBe(1_700_000_100);
  });

  it('reuses the last freed slot first, and a reused slot starts clean', () => {
    const table = new SlotTable<Owner>();
    const a = table.allocate(
      'a',
      { id: 'alice' },
      record({ authenticatedAt: 5, browserSessionCookie: true, actorId: 'root', data: { 's:a': '1' } }),
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
    expect(table.owner(e)).toBeUndefined();
    expect(table.record(e)).toEqual(record());
    expect(put(table, 'f')).toBe(3);
    expect(table.highWater).toBe(4);
    expect(table.isOccupied(b)).toBe(true);
  });

  it('keeps every value as it grows far past its first capacity', () => {
    const table = new SlotTable<Owner>();
    const list = emptySlotList();
    for (let i = 0; i < 10_000; i++) {
      const slot = table.allocate(`k${i}`, undefined, record({ createdAt: i, authenticatedAt: i + 1 }), undefined, undefined);
      table.append(list, slot);
    }
    for (let slot = 0; slot < 10_000; slot++) expect(table.createdAt(slot)).toBe(slot);
    for (let slot = 0; slot < 10_000; slot += 997) expect(table.record(slot).authenticatedAt).toBe(slot + 1);
    expect(table.keysOf(list)).toEqual(Array.from({ length: 10_000 }, (_, i) => `k${i}`));
  });

  describe('lists', () => {
    it('keep the order of appends through unlinks at the head, in the middle and at the tail', () => {
      const table = new SlotTable<Owner>();
      const list = emptySlotList();
      const slots = ['a', 'b', 'c', 'd', 'e'].map((key) => put(table, key, undefined, list));
      expect(table.keysOf(list)).toEqual(['a', 'b', 'c', 'd', 'e']);
      table.unlink(list, slots[2]!);
      table.unlink(list, slots[0]!);
      table.unlink(list, slots[4]!);
      expect(table.keysOf(list)).toEqual(['b', 'd']);
      expect(list.count).toBe(2);
      table.unlink(list, slots[1]!);
      table.unlink(list, slots[3]!);
      expect(list).toEqual({ head: NO_SLOT, tail: NO_SLOT, count: 0 });
      table.append(list, slots[3]!);
      expect(table.keysOf(list)).toEqual(['d']);
    });

    it('thread through one table without mixing', () => {
      const table = new SlotTable<Owner>();
      const [one, two] = [emptySlotList(), emptySlotList()];
      for (let i = 0; i < 6; i++) put(table, `k${i}`, undefined, i % 2 ? one : two);
      expect(table.keysOf(one)).toEqual(['k1', 'k3', 'k5']);
      expect(table.keysOf(two)).toEqual(['k0', 'k2', 'k4']);
    });
  });

  describe('compaction', () => {
    it('is wanted only once most of many slots are free', () => {
      const table = new SlotTable<Owner>();
      const slots = Array.from({ length: 5000 }, (_, i) => put(table, `k${i}`));
      expect(table.isSparse()).toBe(false);
      for (const slot of slots.slice(0, 3749)) table.release(slot);
      expect(table.isSparse()).toBe(false);
      table.release(slots[3749]!);
      expect(table.isSparse()).toBe(true);
      const small = new SlotTable<Owner>();
      small.release(put(small, 'k'));
      expect(small.isSparse()).toBe(false);
    });

    it('moves the sessions down in order, renumbers the links and reports the renumbering', () => {
      const table = new SlotTable<Owner>();
      const alice = { id: 'alice' };
      const [users, anonymous] = [emptySlotList(), emptySlotList()];
      const slots: number[] = [];
      for (let i = 0; i < 200; i++) {
        const slot = table.allocate(
          `k${i}`,
          i % 2 ? alice : undefined,
          {
            ...(i % 5 ? record({ createdAt: i }) : record({ createdAt: i, authenticatedAt: i + 0.5, browserSessionCookie: true })),
            data: i % 3 ? {} : { 's:i': String(i) },
          },
          `ip${i}`,
          undefined,
        );
        table.setDueSecond(slot, 1000 + i);
        table.append(i % 2 ? users : anonymous, slot);
        slots.push(slot);
      }
      for (let i = 0; i < 200; i++) {
        if (i % 4 !== 0 && i % 4 !== 1) {
          table.unlink(i % 2 ? users : anonymous, slots[i]!);
          table.release(slots[i]!);
        }
      }
      const before = new Map(slots.filter((slot) => table.isOccupied(slot)).map((slot) => [table.key(slot), table.record(slot)]));
      const renumber = table.compact();
      renumberList(users, renumber);
      renumberList(anonymous, renumber);

      expect(table.size).toBe(100);
      expect(table.highWater).toBe(100);
      expect(renumber[2]).toBe(NO_SLOT);
      expect(renumber[4]).toBe(2);
      for (let i = 0; i < 200; i++) {
        const to = renumber[slots[i]!]!;
        if (i % 4 > 1) continue;
        expect(table.key(to)).toBe(`k${i}`);
        expect(table.record(to)).toEqual(before.get(`k${i}`));
        expect(table.dueSecond(to)).toBe(1000 + i);
      }
      const kept = (remainder: number) => Array.from({ length: 50 }, (_, j) => `k${4 * j + remainder}`);
      expect(table.keysOf(anonymous)).toEqual(kept(0));
      expect(table.keysOf(users)).toEqual(kept(1));
      // Slots after compaction are handed out from the end, and lists go on from where they were.
      const slot = put(table, 'new', alice, users);
      expect(slot).toBe(100);
      expect(table.keysOf(users)).toEqual([...kept(1), 'new']);
    });

    it('leaves an empty table usable', () => {
      const table = new SlotTable<Owner>();
      const list = emptySlotList();
      const slots = Array.from({ length: 100 }, (_, i) => put(table, `k${i}`, undefined, list));
      for (const slot of slots) {
        table.unlink(list, slot);
        table.release(slot);
      }
      table.compact();
      renumberList(list, new Int32Array(0));
      expect(table.size).toBe(0);
      expect(put(table, 'again', undefined, list)).toBe(0);
      expect(table.keysOf(list)).toEqual(['again']);
    });
  });
});
