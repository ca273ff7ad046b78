import { jest } from '@jest/globals';
import { createHook } from 'node:async_hooks';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlotTable } from '../../lib/stores/memory/slot-table.js';
import { MemoryStore } from '../../lib/stores/memory/memory.store.js';
import type { SessionRecord } from '../../lib/stores/session-record.js';
import type { StoreLimits, StoreRemoval } from '../../lib/stores/session-store.js';
import { captureNestLogs } from '../support/captured-log.js';
import { makeRecord, newKey, runStoreContract } from './store-contract.js';

const NO_LIMIT: StoreLimits = { maxAnonymous: Number.MAX_SAFE_INTEGER };
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** What the store logs (snapshot files read, written, ignored): asserted where it matters, never printed. */
const log = captureNestLogs();

runStoreContract(
  'MemoryStore',
  async () => {
    const store = new MemoryStore();
    await store.open();
    return { store, cleanup: () => store.close() };
  },
  { peek: true, trimUser: true },
);

describe('MemoryStore', () => {
  const opened: MemoryStore[] = [];

  /** A store that afterEach closes, so that no test leaks its timer. */
  async function openStore(options: ConstructorParameters<typeof MemoryStore>[0] = {}): Promise<MemoryStore> {
    const store = new MemoryStore(options);
    opened.push(store);
    await store.open();
    return store;
  }

  const closeOpened = () => Promise.all(opened.splice(0).map((store) => store.close()));

  afterEach(closeOpened);

  describe('maxSessions', () => {
    it('rejects a bound that is not a positive integer', () => {
      expect(() => new MemoryStore({ maxSessions: 0 })).toThrow(/maxSessions/);
      expect(() => new MemoryStore({ maxSessions: 1.5 })).toThrow(/maxSessions/);
    });

    it('evicts the oldest session, connected or not, past the bound', async () => {
      const store = await openStore({ maxSessions: 3 });
      const removals: StoreRemoval[] = [];
      store.subscribe((removal) => removals.push(removal));
      const keys = [newKey(), newKey(), newKey(), newKey(), newKey()];
      await store.create(keys[0]!, makeRecord({ userId: 'alice' }), NO_LIMIT);
      await store.create(keys[1]!, makeRecord(), NO_LIMIT);
      await store.create(keys[2]!, makeRecord({ userId: 'bob' }), NO_LIMIT);
      expect(removals).toEqual([]);
      await store.create(keys[3]!, makeRecord({ userId: 'alice' }), NO_LIMIT);
      await store.create(keys[4]!, makeRecord(), NO_LIMIT);

      expect(store.size).toBe(3);
      expect(removals.map(({ key, reason }) => [key, reason])).toEqual([
        [keys[0], 'evicted'],
        [keys[1], 'evicted'],
      ]);
      expect(await store.get(keys[0]!)).toBeUndefined();
      expect((await store.listUser('alice')).map(([key]) => key)).toEqual([keys[3]]);
      for (const key of keys.slice(2)) expect(await store.get(key)).toBeDefined();
    });

    it('evicts by creation, not by slot: a session in a reused slot is the newest', async () => {
      const store = await openStore({ maxSessions: 3 });
      const removals = removalsOf(store);
      const [a, b, c, d, e, f] = [newKey(), newKey(), newKey(), newKey(), newKey(), newKey()];
      for (const key of [a, b, c]) await store.create(key, makeRecord({ userId: 'alice' }), NO_LIMIT);
      await store.destroy(a);
      // d takes a's slot, the lowest.
      for (const key of [d, e, f]) await store.create(key, makeRecord(), NO_LIMIT);
      expect(keyReason(removals)).toEqual([
        [a, 'destroyed'],
        [b, 'evicted'],
        [c, 'evicted'],
      ]);
      expect(store.size).toBe(3);
      for (const key of [d, e, f]) expect(store.peek(key)).toBeDefined();
    });
  });

  describe('sweep', () => {
    it('expires exactly the sessions that are due and leaves the rest', async () => {
      const store = await openStore();
      const removals: StoreRemoval[] = [];
      store.subscribe((removal) => removals.push(removal));
      const due: string[] = [];
      // Due in a minute, so that the store's own one-second timer cannot expire them before the explicit sweep.
      for (let i = 0; i < 10; i++) {
        const key = newKey();
        due.push(key);
        await store.create(key, makeRecord({ userId: `due-${i}`, idleIn: 60_000 }), NO_LIMIT);
      }
      for (let i = 0; i < 10_000; i++) {
        await store.create(newKey(), makeRecord({ userId: i % 2 ? `user-${i % 97}` : undefined, idleIn: HOUR }), NO_LIMIT);
      }
      expect(store.size).toBe(10_010);

      expect(store.sweep(Date.now() + 120_000)).toBe(10);
      expect(store.size).toBe(10_000);
      expect(removals.map((removal) => removal.reason)).toEqual(Array(10).fill('expired'));
      expect(removals.map((removal) => removal.key).sort()).toEqual([...due].sort());
      // A second sweep over the same time finds nothing more.
      expect(store.sweep(Date.now() + 120_000)).toBe(0);
      expect(store.size).toBe(10_000);
    });

    it('keeps a session that expires later within the second being swept', async () => {
      const store = await openStore();
      // A second boundary a minute ahead, out of reach of the store's own timer.
      const second = (Math.floor(Date.now() / 1000) + 60) * 1000;
      const early = newKey();
      const late = newKey();
      await store.create(early, dueAt(second + 100), NO_LIMIT);
      await store.create(late, dueAt(second + 800), NO_LIMIT);
      expect(store.sweep(second + 500)).toBe(1);
      expect(store.size).toBe(1);
      expect(store.sweep(second + 900)).toBe(1);
      expect(store.size).toBe(0);
    });

    it('follows a touch: a moved expiry is swept at its new time only', async () => {
      const store = await openStore();
      const key = newKey();
      const now = Date.now();
      await store.create(key, makeRecord({ idleIn: 60_000 }), NO_LIMIT);
      await store.touch(key, now, now + 300_000);
      expect(store.sweep(now + 120_000)).toBe(0);
      expect(store.size).toBe(1);
      expect(store.sweep(now + 360_000)).toBe(1);
      expect(store.size).toBe(0);
    });

    it('does not sweep a session destroyed meanwhile', async () => {
      const store = await openStore();
      const key = newKey();
      await store.create(key, makeRecord({ idleIn: 60_000 }), NO_LIMIT);
      await store.destroy(key);
      expect(store.sweep(Date.now() + 120_000)).toBe(0);
    });
  });

  /** Every removal `store` announces from now on, in order. */
  function removalsOf(store: MemoryStore): StoreRemoval[] {
    const removals: StoreRemoval[] = [];
    store.subscribe((removal) => removals.push(removal));
    return removals;
  }

  const keyReason = (removals: StoreRemoval[]) => removals.map(({ key, reason }) => [key, reason]);

  /** A second boundary a minute ahead, out of reach of the store's own timer. */
  const secondAhead = () => (Math.floor(Date.now() / 1000) + 60) * 1000;
  /**
   * A record whose idle expiry is exactly `at`: `idleIn: at - Date.now()` would drift by the millisecond that may pass
   * before makeRecord reads the clock again, moving a session due at the last millisecond of a second into the next.
   */
  const dueAt = (at: number, options: Parameters<typeof makeRecord>[0] = {}) => ({ ...makeRecord(options), idleExpiresAt: at });

  // Sessions live in the slots of a table; a removed session's slot is the next one handed out, while the expiry
  // entry and list links it had may still name that slot.
  describe('slot reuse', () => {
    it('does not expire a new session through the stale expiry entry of the session that had its slot', async () => {
      const store = await openStore();
      const removals = removalsOf(store);
      const now = Date.now();
      const old = newKey();
      await store.create(old, makeRecord({ userId: 'alice', idleIn: 60_000 }), NO_LIMIT);
      await store.destroy(old);
      const reused = newKey();
      await store.create(reused, makeRecord({ userId: 'bob', idleIn: HOUR }), NO_LIMIT);
      expect(store.sweep(now + 120_000)).toBe(0);
      expect((await store.get(reused))?.userId).toBe('bob');
      expect(keyReason(removals)).toEqual([[old, 'destroyed']]);
    });

    it('expires a new session due in the same second as the one that had its slot, once, at its own time', async () => {
      const store = await openStore();
      const removals = removalsOf(store);
      const second = secondAhead();
      const old = newKey();
      await store.create(old, dueAt(second + 100), NO_LIMIT);
      await store.destroy(old);
      const reused = newKey();
      await store.create(reused, dueAt(second + 800), NO_LIMIT);
      expect(store.sweep(second + 500)).toBe(0);
      expect(store.size).toBe(1);
      expect(store.sweep(second + 900)).toBe(1);
      expect(store.sweep(second + 999)).toBe(0);
      expect(keyReason(removals)).toEqual([
        [old, 'destroyed'],
        [reused, 'expired'],
      ]);
    });

    it('does not list a new session under the user whose session had its slot', async () => {
      const store = await openStore();
      const [a1, a2, a3, b1] = [newKey(), newKey(), newKey(), newKey()];
      for (const key of [a1, a2, a3]) await store.create(key, makeRecord({ userId: 'alice' }), NO_LIMIT);
      await store.destroy(a2);
      await store.create(b1, makeRecord({ userId: 'bob' }), NO_LIMIT);
      expect((await store.listUser('alice')).map(([key]) => key)).toEqual([a1, a3]);
      expect((await store.listUser('bob')).map(([key]) => key)).toEqual([b1]);
      expect((await store.closeUser('alice')).map(([key]) => key)).toEqual([a1, a3]);
      expect((await store.get(b1))?.userId).toBe('bob');
      expect((await store.closeUser('bob')).map(([key]) => key)).toEqual([b1]);
      expect(store.size).toBe(0);
    });

    it('keeps the anonymous cap to anonymous sessions when a connected one takes an anonymous slot', async () => {
      const store = await openStore();
      const removals = removalsOf(store);
      const limits: StoreLimits = { maxAnonymous: 2 };
      const [x1, x2, x3, x4, connected] = [newKey(), newKey(), newKey(), newKey(), newKey()];
      await store.create(x1, makeRecord(), limits);
      await store.create(x2, makeRecord(), limits);
      await store.destroy(x1);
      await store.create(connected, makeRecord({ userId: 'alice' }), limits);
      await store.create(x3, makeRecord(), limits);
      expect(keyReason(removals)).toEqual([[x1, 'destroyed']]);
      await store.create(x4, makeRecord(), limits);
      expect(keyReason(removals)).toEqual([
        [x1, 'destroyed'],
        [x2, 'evicted'],
      ]);
      expect((await store.get(connected))?.userId).toBe('alice');
      // An anonymous session in a slot a connected one had is not in the user's list.
      await store.destroy(connected);
      const x5 = newKey();
      await store.create(x5, makeRecord(), NO_LIMIT);
      expect(await store.listUser('alice')).toEqual([]);
      expect(store.size).toBe(3);
    });
  });

  describe('a user’s sessions', () => {
    it('stay in creation order through removals in the middle and at both ends', async () => {
      const store = await openStore();
      // One creation time for all: listUser's sort then keeps the store's own order, which is what is checked.
      const createdAt = Date.now() - 1_000;
      const keys = Array.from({ length: 8 }, () => newKey());
      const create = (key: string) => store.create(key, makeRecord({ userId: 'alice', createdAt }), NO_LIMIT);
      const listed = async () => (await store.listUser('alice')).map(([key]) => key);
      for (const key of keys.slice(0, 5)) await create(key);
      await store.destroy(keys[1]!);
      await store.destroy(keys[3]!);
      expect(await listed()).toEqual([keys[0], keys[2], keys[4]]);
      await create(keys[5]!);
      expect(await listed()).toEqual([keys[0], keys[2], keys[4], keys[5]]);
      await store.destroy(keys[0]!);
      await store.destroy(keys[5]!);
      expect(await listed()).toEqual([keys[2], keys[4]]);
      await create(keys[6]!);
      await create(keys[7]!);
      expect(await listed()).toEqual([keys[2], keys[4], keys[6], keys[7]]);
      expect((await store.closeUser('alice')).map(([key]) => key)).toEqual([keys[2], keys[4], keys[6], keys[7]]);
      expect(await listed()).toEqual([]);
    });
  });

  describe('shared strings', () => {
    // Built at run time, so that each call gives a separate string, as each request's headers do.
    const agent = (version: number) => ['Mozilla/5.0', '(X11; Linux x86_64)', `Firefox/${version}.0`].join(' ');
    const address = (i: number) => ['10', '0', String(i >> 8), String(i & 255)].join('.');

    it('reads back equal User-Agent and address values from sessions given separate copies', async () => {
      const store = await openStore();
      const [s1, s2, s3] = [newKey(), newKey(), newKey()];
      await store.create(s1, { ...makeRecord({ userId: 'alice' }), userAgent: agent(133), ip: address(7) }, NO_LIMIT);
      await store.create(s2, { ...makeRecord({ userId: 'bob' }), userAgent: agent(133), ip: address(7) }, NO_LIMIT);
      await store.create(s3, { ...makeRecord(), userAgent: agent(134), ip: address(8) }, NO_LIMIT);
      const [r1, r2, r3] = [await store.get(s1), await store.get(s2), await store.get(s3)];
      expect([r1?.userAgent, r1?.ip]).toEqual([agent(133), address(7)]);
      expect([r2?.userAgent, r2?.ip]).toEqual([agent(133), address(7)]);
      expect([r3?.userAgent, r3?.ip]).toEqual([agent(134), address(8)]);
    });

    it('keeps a session without address or User-Agent without them', async () => {
      const store = await openStore();
      const key = newKey();
      const { ip: _ip, userAgent: _agent, ...bare } = makeRecord({ userId: 'alice' });
      await store.create(key, bare, NO_LIMIT);
      const read = await store.get(key);
      expect(read).toEqual(bare);
      expect(read && 'ip' in read).toBe(false);
      expect(read && 'userAgent' in read).toBe(false);
    });

    it('reads back every value when there are more distinct values than the shared table holds', async () => {
      const store = await openStore();
      const keys: string[] = [];
      for (let i = 0; i < 12_000; i++) {
        keys.push(newKey());
        await store.create(keys[i]!, { ...makeRecord(), userAgent: agent(i), ip: address(i) }, NO_LIMIT);
      }
      // Values seen before the table started afresh, seen again after it.
      const again = newKey();
      await store.create(again, { ...makeRecord(), userAgent: agent(5), ip: address(5) }, NO_LIMIT);
      for (let i = 0; i < 12_000; i++) {
        const read = store.peek(keys[i]!);
        expect(read?.userAgent).toBe(agent(i));
        expect(read?.ip).toBe(address(i));
      }
      expect(store.peek(again)).toMatchObject({ userAgent: agent(5), ip: address(5) });
    });
  });

  describe('expiry at scale', () => {
    it('expires 100,000 sessions due in the same second in one sweep and reports every one', async () => {
      const store = await openStore();
      const second = secondAhead();
      const due = new Set<string>();
      const stays: string[] = [];
      for (let i = 0; i < 100_000; i++) {
        const key = newKey();
        due.add(key);
        const userId = i % 3 === 0 ? undefined : `user-${i % 1000}`;
        await store.create(key, dueAt(second + (i % 1000), { userId }), NO_LIMIT);
      }
      for (let i = 0; i < 1000; i++) {
        const key = newKey();
        stays.push(key);
        await store.create(key, makeRecord({ userId: `user-${i}`, idleIn: HOUR }), NO_LIMIT);
      }
      const removals = removalsOf(store);
      expect(store.sweep(second + 999)).toBe(100_000);
      expect(removals).toHaveLength(100_000);
      expect(removals.every((removal) => removal.reason === 'expired' && removal.record !== undefined)).toBe(true);
      expect(new Set(removals.map((removal) => removal.key))).toEqual(due);
      expect(store.size).toBe(1000);
      expect((await store.listUser('user-1')).map(([key]) => key)).toEqual([stays[1]]);
      expect(store.sweep(second + 999)).toBe(0);
    });

    it('follows a touch that brings the expiry closer', async () => {
      const store = await openStore();
      const key = newKey();
      const now = Date.now();
      await store.create(key, makeRecord({ idleIn: 300_000 }), NO_LIMIT);
      await store.touch(key, now, now + 60_000);
      expect(store.sweep(now + 30_000)).toBe(0);
      expect(store.sweep(now + 120_000)).toBe(1);
      expect(store.size).toBe(0);
    });

    it('reports the whole record of a session that expired', async () => {
      const store = await openStore();
      const removals = removalsOf(store);
      const key = newKey();
      const record = makeRecord({ userId: 'alice', idleIn: 60_000, data: { 's:a': '1' } });
      await store.create(key, record, NO_LIMIT);
      expect(store.sweep(Date.now() + 120_000)).toBe(1);
      expect(removals).toEqual([{ key, reason: 'expired', record }]);
    });
  });

  describe('compaction', () => {
    afterEach(() => jest.restoreAllMocks());

    it('gives back the slots of a store that shrank, every session staying whole and in its place', async () => {
      const compact = jest.spyOn(SlotTable.prototype, 'compact');
      const store = await openStore({ maxSessions: 20_000 });
      const createdAt = Date.now() - 1_000;
      const keys: string[] = [];
      const records = new Map<string, SessionRecord>();
      for (let i = 0; i < 20_000; i++) {
        const key = newKey();
        const anonymous = i % 4 === 0;
        const record = makeRecord({
          userId: anonymous ? undefined : `u${i % 50}`,
          createdAt,
          idleIn: 60_000 + (i % 100) * 1000,
          data: anonymous ? { 'b:n': String(i) } : i % 3 === 0 ? { 's:n': String(i) } : {},
        });
        // Some impersonated: their actor is kept by slot, and must follow the renumbering.
        if (!anonymous && i % 7 === 0) Object.assign(record, { actorId: `root${i}`, actorEpoch: i % 3 });
        // Some with times no offset from createdAt holds (a fraction, 400 days and a millisecond: the times' side map)
        // or only in whole seconds (400 days): they must follow the renumbering too.
        if (i % 11 === 0) Object.assign(record, { lastSeenAt: createdAt + 0.5, absoluteExpiresAt: createdAt + 400 * DAY + 1 });
        if (i % 13 === 0) record.absoluteExpiresAt = createdAt + 400 * DAY;
        keys.push(key);
        records.set(key, record);
        await store.create(key, record, NO_LIMIT);
      }
      for (let i = 0; i < 20_000; i++) {
        if (i % 5 !== 0) await store.destroy(keys[i]!);
      }
      const survivors = keys.filter((_, i) => i % 5 === 0);
      const removals = removalsOf(store);
      expect(store.sweep()).toBe(0);
      expect(compact).toHaveBeenCalledTimes(1);

      for (const key of survivors) expect(store.peek(key)).toEqual(records.get(key));
      for (const user of ['u5', 'u10', 'u45']) {
        const own = survivors.filter((key) => records.get(key)!.userId === user);
        expect(own.length).toBeGreaterThan(0);
        expect((await store.listUser(user)).map(([key]) => key)).toEqual(own);
      }
      // The anonymous cap still evicts the oldest anonymous session, the global bound the oldest of all.
      const anonymous = survivors.filter((key) => records.get(key)!.userId === undefined);
      await store.create(newKey(), makeRecord(), { maxAnonymous: anonymous.length });
      expect(keyReason(removals)).toEqual([[anonymous[0], 'evicted']]);
      while (store.size < 20_000) await store.create(newKey(), makeRecord({ userId: 'later' }), NO_LIMIT);
      expect(removals).toHaveLength(1);
      await store.create(newKey(), makeRecord({ userId: 'later' }), NO_LIMIT);
      expect(keyReason(removals)).toEqual([
        [anonymous[0], 'evicted'],
        [survivors[1], 'evicted'],
      ]);

      // Their expiry entries were renumbered too: each survivor expires, once, and nothing else does.
      removals.length = 0;
      const expiring = survivors.filter((key) => key !== anonymous[0] && key !== survivors[1]);
      expect(store.sweep(Date.now() + 200_000)).toBe(expiring.length);
      expect(removals.map((removal) => removal.key).sort()).toEqual([...expiring].sort());
      expect(store.size).toBe(20_000 - expiring.length);
    });

    it('does not happen while most slots are in use', async () => {
      const compact = jest.spyOn(SlotTable.prototype, 'compact');
      const store = await openStore();
      const keys: string[] = [];
      for (let i = 0; i < 10_000; i++) {
        keys.push(newKey());
        await store.create(keys[i]!, makeRecord({ userId: `u${i % 10}` }), NO_LIMIT);
      }
      for (const key of keys.slice(0, 5_000)) await store.destroy(key);
      store.sweep();
      expect(compact).not.toHaveBeenCalled();
      expect(store.size).toBe(5_000);
    });
  });

  describe('snapshot', () => {
    let dir: string;
    let file: string;

    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'nestjs-connected-snapshot-'));
      file = join(dir, 'sessions.json');
    });

    afterEach(async () => {
      // Close first: a store with a snapshot file writes it on close, into the directory about to go.
      await closeOpened();
      await rm(dir, { recursive: true, force: true });
    });

    const exists = (path: string) =>
      stat(path).then(
        () => true,
        () => false,
      );

    /** A store that has written a snapshot holding `good` and `bad` (two alice sessions). */
    async function writeTwoSessions(): Promise<{ good: string; bad: string }> {
      const writer = new MemoryStore({ snapshotFile: file });
      await writer.open();
      const good = newKey();
      const bad = newKey();
      await writer.create(good, makeRecord({ userId: 'alice' }), NO_LIMIT);
      await writer.create(bad, makeRecord({ userId: 'alice' }), NO_LIMIT);
      await writer.close();
      return { good, bad };
    }

    /** Opens a fresh store on the snapshot file; it must not throw whatever the file holds. */
    async function reopen(): Promise<MemoryStore> {
      const reader = await openStore({ snapshotFile: file });
      return reader;
    }

    it('is written on close with mode 0600', async () => {
      const store = new MemoryStore({ snapshotFile: file });
      await store.open();
      await store.create(newKey(), makeRecord({ userId: 'alice' }), NO_LIMIT);
      await store.close();
      expect((await stat(file)).mode & 0o777).toBe(0o600);
    });

    it('replaces an existing, more open file with a 0600 one', async () => {
      await writeFile(file, 'stale', { mode: 0o644 });
      const store = new MemoryStore({ snapshotFile: file });
      await store.open();
      await store.close();
      expect((await stat(file)).mode & 0o777).toBe(0o600);
    });

    it('is read back on open (sessions, persisted fields, user fields, epochs) and then deleted', async () => {
      const writer = new MemoryStore({ snapshotFile: file });
      await writer.open();
      const connected = newKey();
      const anonymous = newKey();
      const afterLogout = newKey();
      const connectedRecord = makeRecord({ userId: 'alice', data: { 's:note': '"hi"', 'b:theme': '"dark"' } });
      const anonymousRecord = makeRecord({ data: { 'b:cart': '[1,2]' } });
      await writer.create(connected, connectedRecord, NO_LIMIT);
      await writer.create(anonymous, anonymousRecord, NO_LIMIT);
      await writer.setField(connected, 's:later', '42');
      await writer.setUserField('alice', 'prefs', '{"lang":"fr"}');
      await writer.closeUser('bob');
      await writer.closeUser('bob');
      await writer.create(afterLogout, makeRecord({ userId: 'bob', epoch: 2 }), NO_LIMIT);
      await writer.close();
      expect(await exists(file)).toBe(true);

      const reader = await reopen();
      expect(reader.size).toBe(3);
      expect(await reader.get(connected)).toEqual({ ...connectedRecord, data: { ...connectedRecord.data, 's:later': '42' } });
      expect(await reader.get(anonymous)).toEqual(anonymousRecord);
      expect((await reader.listUser('alice')).map(([key]) => key)).toEqual([connected]);
      expect(await reader.getUserField('alice', 'prefs')).toBe('{"lang":"fr"}');
      expect(await reader.epochOf('bob')).toBe(2);
      expect((await reader.get(afterLogout))?.userId).toBe('bob');
      expect(await exists(file)).toBe(false);
    });

    it('keeps authenticatedAt and the cookie kind across a restart, and reads an older snapshot without them', async () => {
      const writer = new MemoryStore({ snapshotFile: file });
      await writer.open();
      const [reauthenticated, older] = [newKey(), newKey()];
      const record: SessionRecord = {
        ...makeRecord({ userId: 'alice', createdAt: Date.now() - 9000 }),
        authenticatedAt: Date.now() - 1000,
      };
      record.browserSessionCookie = true;
      await writer.create(reauthenticated, record, NO_LIMIT);
      await writer.create(older, makeRecord({ userId: 'alice' }), NO_LIMIT);
      await writer.close();
      // The snapshot of a version that had no such fields: the same JSON without them.
      const snapshot = JSON.parse(await readFile(file, 'utf8')) as { sessions: Array<[string, Record<string, unknown>]> };
      expect(snapshot.sessions.find(([key]) => key === reauthenticated)?.[1]).toMatchObject({ authenticatedAt: record.authenticatedAt });
      expect(Object.keys(snapshot.sessions.find(([key]) => key === older)![1])).not.toContain('authenticatedAt');

      const reader = await reopen();
      expect(await reader.get(reauthenticated)).toEqual(record);
      const read = await reader.get(older);
      expect(read?.userId).toBe('alice');
      expect(read).not.toHaveProperty('authenticatedAt');
    });

    it('keeps the actor of an impersonated session across a restart', async () => {
      const writer = new MemoryStore({ snapshotFile: file });
      await writer.open();
      const key = newKey();
      const record: SessionRecord = { ...makeRecord({ userId: 'alice' }), actorId: 'root', actorEpoch: 2 };
      await writer.create(key, record, NO_LIMIT);
      await writer.close();
      const reader = await reopen();
      expect(await reader.get(key)).toEqual(record);
    });

    it('keeps the epoch rule across a restart: a session older than its user’s epoch stays dead', async () => {
      const writer = new MemoryStore({ snapshotFile: file });
      await writer.open();
      const stale = newKey();
      await writer.closeUser('alice');
      await writer.create(stale, makeRecord({ userId: 'alice', epoch: 0 }), NO_LIMIT);
      await writer.close();
      const reader = await reopen();
      expect(await reader.epochOf('alice')).toBe(1);
      expect(await reader.get(stale)).toBeUndefined();
    });

    it('reads back epochs an Int32 cannot hold exactly, and a disconnectAll still closes their sessions', async () => {
      const [bobs, stale, carols] = [newKey(), newKey(), newKey()];
      const bobsRecord = { ...makeRecord({ userId: 'bob' }), epoch: 2 ** 31 };
      const carolsRecord = { ...makeRecord({ userId: 'carol' }), epoch: 2 ** 53 };
      await writeFile(
        file,
        JSON.stringify({
          version: 1,
          sessions: [
            [bobs, bobsRecord],
            [stale, { ...bobsRecord, epoch: 2 ** 31 - 1 }],
            [carols, carolsRecord],
          ],
          users: [
            ['bob', { epoch: 2 ** 31, fields: [] }],
            ['carol', { epoch: 2 ** 53, fields: [] }],
          ],
        }),
      );
      const reader = await reopen();
      expect(await reader.epochOf('bob')).toBe(2 ** 31);
      expect(await reader.epochOf('carol')).toBe(2 ** 53);
      expect(await reader.get(bobs)).toEqual(bobsRecord);
      expect(await reader.get(stale)).toBeUndefined();
      expect(await reader.get(carols)).toEqual(carolsRecord);
      expect((await reader.closeUser('bob')).map(([key]) => key)).toEqual([bobs]);
      expect(await reader.epochOf('bob')).toBe(2 ** 31 + 1);
    });

    it('does not restore sessions that expired while the server was down', async () => {
      const { good, bad: expired } = await writeTwoSessions();
      // Age one record in the file instead of sleeping: the write-side filter must not be what drops it.
      const snapshot = JSON.parse(await readFile(file, 'utf8')) as { sessions: Array<[string, SessionRecord]> };
      const entry = snapshot.sessions.find(([key]) => key === expired)!;
      entry[1].idleExpiresAt = Date.now() - 1_000;
      await writeFile(file, JSON.stringify(snapshot));

      const reader = await reopen();
      expect(reader.size).toBe(1);
      expect(await reader.get(expired)).toBeUndefined();
      expect((await reader.listUser('alice')).map(([key]) => key)).toEqual([good]);
    });

    it('starts empty, without throwing, when there is no file', async () => {
      const reader = await reopen();
      expect(reader.size).toBe(0);
    });

    describe('ignores a corrupt file without throwing', () => {
      it.each([
        ['garbage', 'this is not json {'],
        ['JSON of the wrong shape', '[1,2,3]'],
        ['null', 'null'],
        ['missing arrays', '{"version":1}'],
      ])('%s', async (_, text) => {
        await writeFile(file, text);
        const warned = log.matching('Ignored a corrupt snapshot file').length;
        const reader = await reopen();
        expect(reader.size).toBe(0);
        expect(await reader.listUser('alice')).toEqual([]);
        // Said once, so that an operator knows the sessions of the last run were not restored.
        expect(log.matching('Ignored a corrupt snapshot file')).toHaveLength(warned + 1);
      });

      it('of another version', async () => {
        const { good } = await writeTwoSessions();
        const snapshot = JSON.parse(await readFile(file, 'utf8')) as { version: number };
        snapshot.version = 2;
        await writeFile(file, JSON.stringify(snapshot));
        const reader = await reopen();
        expect(reader.size).toBe(0);
        expect(await reader.get(good)).toBeUndefined();
      });

      it('skipping a record with a __proto__ key and keeping the good ones', async () => {
        const { good, bad } = await writeTwoSessions();
        const text = await readFile(file, 'utf8');
        const anchor = `"${bad}",{`;
        expect(text).toContain(anchor);
        await writeFile(file, text.replace(anchor, `${anchor}"__proto__":{"userId":"root"},`));
        const reader = await reopen();
        expect(reader.size).toBe(1);
        expect(await reader.get(bad)).toBeUndefined();
        expect((await reader.get(good))?.userId).toBe('alice');
      });

      it('skipping a record with a __proto__ data field', async () => {
        const { good, bad } = await writeTwoSessions();
        const text = await readFile(file, 'utf8');
        const start = text.indexOf(`"${bad}",{`);
        const dataAt = text.indexOf('"data":{', start);
        expect(start).toBeGreaterThanOrEqual(0);
        expect(dataAt).toBeGreaterThan(start);
        const cut = dataAt + '"data":{'.length;
        await writeFile(file, `${text.slice(0, cut)}"__proto__":"x",${text.slice(cut)}`.replace(',}', '}'));
        const reader = await reopen();
        expect(await reader.get(bad)).toBeUndefined();
        expect((await reader.get(good))?.userId).toBe('alice');
      });

      it('skipping a __proto__ user without polluting Object.prototype', async () => {
        const { good } = await writeTwoSessions();
        const snapshot = JSON.parse(await readFile(file, 'utf8')) as { users: unknown[] };
        const text = JSON.stringify(snapshot).replace(
          '"users":[',
          `"users":[["__proto__",{"epoch":7,"fields":[["polluted","yes"]]}]${snapshot.users.length ? ',' : ''}`,
        );
        await writeFile(file, text);
        const reader = await reopen();
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect(({} as Record<string, unknown>).epoch).toBeUndefined();
        expect(await reader.epochOf('__proto__')).toBe(0);
        expect((await reader.get(good))?.userId).toBe('alice');
      });
    });
  });

  describe('timers', () => {
    /** Timeouts (setInterval too) created while `track` is true, and the ones destroyed (cleared) so far. */
    function watchTimeouts() {
      const created = new Set<number>();
      const destroyed = new Set<number>();
      let tracking = false;
      const hook = createHook({
        init(asyncId, type) {
          if (tracking && type === 'Timeout') created.add(asyncId);
        },
        destroy(asyncId) {
          destroyed.add(asyncId);
        },
      }).enable();
      return {
        track<T>(fn: () => T): T {
          tracking = true;
          try {
            return fn();
          } finally {
            tracking = false;
          }
        },
        live: () => [...created].filter((id) => !destroyed.has(id)),
        created,
        stop: () => hook.disable(),
      };
    }

    /** Destroy hooks are delivered asynchronously. */
    const settle = async () => {
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    };

    it('holds an interval while open and none after close', async () => {
      const timeouts = watchTimeouts();
      try {
        const store = timeouts.track(() => new MemoryStore());
        await store.open();
        await settle();
        // The sweeper exists and is alive, which is what makes the check after close meaningful.
        expect(timeouts.created.size).toBeGreaterThanOrEqual(1);
        expect(timeouts.live()).toHaveLength(timeouts.created.size);
        await store.close();
        await settle();
        expect(timeouts.live()).toEqual([]);
      } finally {
        timeouts.stop();
      }
    });

    it('starts no second interval on open and leaves none after a close–open–close cycle', async () => {
      const timeouts = watchTimeouts();
      try {
        const store = timeouts.track(() => new MemoryStore());
        await timeouts.track(() => store.open());
        await settle();
        expect(timeouts.live()).toHaveLength(1);
        await store.close();
        await timeouts.track(() => store.open());
        await store.close();
        await settle();
        expect(timeouts.live()).toEqual([]);
      } finally {
        timeouts.stop();
      }
    });
  });
});
