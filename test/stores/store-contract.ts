import { randomBytes } from 'node:crypto';
import type { SessionRecord } from '../../lib/stores/session-record.js';
import type { SessionStore, StoreLimits, StoreRemoval } from '../../lib/stores/session-store.js';
import { captureNestLogs } from '../support/captured-log.js';
import { describeReauthContract } from './store-contract-reauth.js';

/**
 * The storage contract of lib/stores/session-store.ts and the README ("Stores"), as one suite that every store runs
 * unchanged. It uses only the public SessionStore methods, and it never assumes that removal events arrive
 * synchronously (a shared store may deliver them over pub/sub): it waits for them with a deadline instead.
 */
export interface StoreUnderTest {
  store: SessionStore;
  cleanup(): Promise<void>;
}

const NO_LIMIT: StoreLimits = { maxAnonymous: Number.MAX_SAFE_INTEGER };
const HOUR = 3_600_000;
/** How far ahead a "short-lived" record expires; the tests then sleep past it. */
const SHORT = 500;
/** How long to wait for an event that a store may deliver asynchronously. */
const EVENT_DEADLINE = 5_000;

/** A store key the way the library makes them: 43 base64url characters. */
export function newKey(): string {
  return randomBytes(32).toString('base64url');
}

interface RecordOptions {
  userId?: string;
  epoch?: number;
  createdAt?: number;
  /** Milliseconds from now. */
  idleIn?: number;
  absoluteIn?: number;
  data?: Record<string, string>;
  /** The client address; null for a record without one. Default `192.0.2.1`. */
  ip?: string | null;
}

/** A record that lives for an hour unless told otherwise. */
export function makeRecord(options: RecordOptions = {}): SessionRecord {
  const now = Date.now();
  const record: SessionRecord = {
    epoch: options.epoch ?? 0,
    createdAt: options.createdAt ?? now,
    lastSeenAt: options.createdAt ?? now,
    idleExpiresAt: now + (options.idleIn ?? HOUR),
    absoluteExpiresAt: now + (options.absoluteIn ?? 24 * HOUR),
    userAgent: 'contract-test',
    data: { ...(options.data ?? {}) },
  };
  if (options.ip !== null) record.ip = options.ip ?? '192.0.2.1';
  if (options.userId !== undefined) record.userId = options.userId;
  return record;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sleeps until the wall clock is past `time` (plus a margin for stores with coarse clocks). */
async function sleepPast(time: number, margin = 60): Promise<void> {
  const wait = time + margin - Date.now();
  if (wait > 0) await sleep(wait);
}

/** Polls `check` until it holds; fails with `what` past the deadline. Never asserts on durations. */
async function eventually(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + EVENT_DEADLINE;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function sortedKeys(entries: Array<[string, SessionRecord]>): string[] {
  return entries.map(([key]) => key).sort();
}

/** What the suite checks beyond the methods every store has. */
export interface ContractOptions {
  /** The store implements the optional synchronous `peek`: its tests are defined (a store without it has none). */
  peek?: boolean;
  /** The store implements the optional `trimUser`: its tests are defined. */
  trimUser?: boolean;
}

/**
 * Defines the shared store contract suite. `makeStore` gives a fresh, opened, empty store for each test;
 * `cleanup` closes it and removes anything it left behind.
 */
export function runStoreContract(name: string, makeStore: () => Promise<StoreUnderTest>, options: ContractOptions = {}): void {
  describe(`${name} — store contract`, () => {
    // The faults below (a throwing listener) are logged by the store: into this, not onto the console.
    const log = captureNestLogs();
    let store: SessionStore;
    let cleanup: () => Promise<void>;
    let removals: StoreRemoval[];
    let unsubscribeAll: () => void;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
      removals = [];
      unsubscribeAll = store.subscribe((removal) => removals.push(removal));
    });

    afterEach(async () => {
      unsubscribeAll();
      await cleanup();
    });

    const removalsOf = (key: string) => removals.filter((removal) => removal.key === key);
    const waitForRemoval = (key: string, reason: StoreRemoval['reason']) =>
      eventually(`a '${reason}' removal of ${key}`, () => removalsOf(key).some((removal) => removal.reason === reason));

    describe('create', () => {
      it('stores a record that get returns field for field', async () => {
        const key = newKey();
        const record = makeRecord({ userId: 'alice', epoch: 0, data: { 's:cart': '[1]', 'b:theme': '"dark"' } });
        expect(await store.create(key, record, NO_LIMIT)).toBe(true);
        expect(await store.get(key)).toEqual(record);
      });

      it('stores an anonymous record without a userId', async () => {
        const key = newKey();
        const record = makeRecord({ data: { 'b:cart': '[]' } });
        expect(await store.create(key, record, NO_LIMIT)).toBe(true);
        const stored = await store.get(key);
        expect(stored).toEqual(record);
        expect(stored?.userId).toBeUndefined();
      });

      it('creates only if absent: a second create is refused and the first record stays', async () => {
        const key = newKey();
        const first = makeRecord({ userId: 'alice', data: { 's:who': '"first"' } });
        const second = makeRecord({ userId: 'mallory', data: { 's:who': '"second"' } });
        expect(await store.create(key, first, NO_LIMIT)).toBe(true);
        expect(await store.create(key, second, NO_LIMIT)).toBe(false);
        expect(await store.get(key)).toEqual(first);
        expect(sortedKeys(await store.listUser('mallory'))).toEqual([]);
      });

      it('lets only one of two racing creates of one key win', async () => {
        const key = newKey();
        const results = await Promise.all([
          store.create(key, makeRecord({ userId: 'alice' }), NO_LIMIT),
          store.create(key, makeRecord({ userId: 'bob' }), NO_LIMIT),
        ]);
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results[0] ? 'alice' : 'bob';
        expect((await store.get(key))?.userId).toBe(winner);
      });
    });

    describe('get', () => {
      it('gives undefined for an absent key, and emits nothing', async () => {
        expect(await store.get(newKey())).toBeUndefined();
        expect(removals).toEqual([]);
      });
    });

    describe('setField and deleteField', () => {
      it('write and remove one field of a live session', async () => {
        const key = newKey();
        await store.create(key, makeRecord({ userId: 'alice', data: { 's:a': '1' } }), NO_LIMIT);
        expect(await store.setField(key, 's:b', '2')).toBe(true);
        expect((await store.get(key))?.data).toEqual({ 's:a': '1', 's:b': '2' });
        expect(await store.setField(key, 's:a', '3')).toBe(true);
        expect(await store.deleteField(key, 's:b')).toBe(true);
        expect((await store.get(key))?.data).toEqual({ 's:a': '3' });
      });

      it('deleting an absent field of a live session succeeds and changes nothing', async () => {
        const key = newKey();
        await store.create(key, makeRecord({ data: { 'b:a': '1' } }), NO_LIMIT);
        expect(await store.deleteField(key, 'b:missing')).toBe(true);
        expect((await store.get(key))?.data).toEqual({ 'b:a': '1' });
      });

      it('never create a session for an absent key', async () => {
        const key = newKey();
        expect(await store.setField(key, 's:a', '1')).toBe(false);
        expect(await store.deleteField(key, 's:a')).toBe(false);
        expect(await store.get(key)).toBeUndefined();
        // A later create sees the key as absent and stores exactly its own data.
        expect(await store.create(key, makeRecord({ data: {} }), NO_LIMIT)).toBe(true);
        expect((await store.get(key))?.data).toEqual({});
      });

      it('never bring back a destroyed session (a slow request after a logout)', async () => {
        const key = newKey();
        await store.create(key, makeRecord({ userId: 'alice' }), NO_LIMIT);
        await store.destroy(key);
        expect(await store.setField(key, 's:a', '1')).toBe(false);
        expect(await store.deleteField(key, 's:a')).toBe(false);
        expect(await store.get(key)).toBeUndefined();
        expect(sortedKeys(await store.listUser('alice'))).toEqual([]);
      });

      it('refuse a session-scoped field on an anonymous record (a late write of a session closed by disconnectAll)', async () => {
        const key = newKey();
        await store.create(key, makeRecord({ data: { 'b:cart': '[1]' } }), NO_LIMIT);
        expect(await store.setField(key, 's:secret', '"x"')).toBe(false);
        expect(await store.setField(key, 'b:theme', '"dark"')).toBe(true);
        expect((await store.get(key))?.data).toEqual({ 'b:cart': '[1]', 'b:theme': '"dark"' });
      });

      it('keep both writes of two requests that set different fields', async () => {
        const key = newKey();
        await store.create(key, makeRecord({ userId: 'alice' }), NO_LIMIT);
        await store.setField(key, 's:a', 'A');
        await store.setField(key, 's:b', 'B');
        expect((await store.get(key))?.data).toEqual({ 's:a': 'A', 's:b': 'B' });
      });

      it('keep every write when they interleave', async () => {
        const key = newKey();
        await store.create(key, makeRecord({ userId: 'alice', data: { 's:gone': 'x' } }), NO_LIMIT);
        const fields = Array.from({ length: 20 }, (_, i) => `s:f${i}`);
        const results = await Promise.all([
          ...fields.map((field, i) => store.setField(key, field, String(i))),
          store.deleteField(key, 's:gone'),
          store.setField(key, 'b:other', 'y'),
        ]);
        expect(results.every(Boolean)).toBe(true);
        const expected: Record<string, string> = { 'b:other': 'y' };
        fields.forEach((field, i) => (expected[field] = String(i)));
        expect((await store.get(key))?.data).toEqual(expected);
      });
    });

    describe('touch', () => {
      it('moves the idle expiry and lastSeenAt', async () => {
        const key = newKey();
        await store.create(key, makeRecord({ userId: 'alice', idleIn: SHORT }), NO_LIMIT);
        const now = Date.now();
        expect(await store.touch(key, now, now + HOUR)).toBe(true);
        const touched = await store.get(key);
        expect(touched?.lastSeenAt).toBe(now);
        expect(touched?.idleExpiresAt).toBe(now + HOUR);
        // The old idle expiry passes; the session lives on.
        await sleepPast(now + SHORT);
        expect((await store.get(key))?.userId).toBe('alice');
        expect(removalsOf(key)).toEqual([]);
      });

      it('never extends a session past its absolute expiry', async () => {
        const key = newKey();
        await store.create(key, makeRecord({ userId: 'alice', idleIn: SHORT, absoluteIn: SHORT }), NO_LIMIT);
        const { absoluteExpiresAt } = (await store.get(key))!;
        expect(await store.touch(key, Date.now(), Date.now() + HOUR)).toBe(true);
        await sleepPast(absoluteExpiresAt);
        expect(await store.get(key)).toBeUndefined();
        await waitForRemoval(key, 'expired');
      });

      it('never revives a destroyed session', async () => {
        const key = newKey();
        await store.create(key, makeRecord({ userId: 'alice' }), NO_LIMIT);
        await store.destroy(key);
        expect(await store.touch(key, Date.now(), Date.now() + HOUR)).toBe(false);
        expect(await store.get(key)).toBeUndefined();
        expect(sortedKeys(await store.listUser('alice'))).toEqual([]);
      });

      it('never revives an expired session, nor one that was never there', async () => {
        const key = newKey();
        const record = makeRecord({ userId: 'alice', idleIn: SHORT });
        await store.create(key, record, NO_LIMIT);
        await sleepPast(record.idleExpiresAt);
        expect(await store.touch(key, Date.now(), Date.now() + HOUR)).toBe(false);
        expect(await store.get(key)).toBeUndefined();
        expect(await store.touch(newKey(), Date.now(), Date.now() + HOUR)).toBe(false);
      });
    });

    describe('expiry', () => {
      it('ends a session at its idle expiry and tells subscribers it expired', async () => {
        const key = newKey();
        const keep = newKey();
        const record = makeRecord({ userId: 'alice', idleIn: SHORT });
        await store.create(key, record, NO_LIMIT);
        await store.create(keep, makeRecord({ userId: 'alice' }), NO_LIMIT);
        expect(await store.get(key)).toBeDefined();
        await sleepPast(record.idleExpiresAt);
        expect(await store.get(key)).toBeUndefined();
        await waitForRemoval(key, 'expired');
        expect(removalsOf(key).map((removal) => removal.reason)).toEqual(['expired']);
        expect(await store.get(keep)).toBeDefined();
        expect(removalsOf(keep)).toEqual([]);
      });

      it('ends a session at its absolute expiry even when idle time remains', async () => {
        const key = newKey();
        const record = makeRecord({ idleIn: HOUR, absoluteIn: SHORT });
        await store.create(key, record, NO_LIMIT);
        await sleepPast(record.absoluteExpiresAt);
        expect(await store.get(key)).toBeUndefined();
        await waitForRemoval(key, 'expired');
      });

      it('leaves expired sessions out of listUser and refuses writes to them', async () => {
        const soon = newKey();
        const later = newKey();
        const record = makeRecord({ userId: 'alice', idleIn: SHORT });
        await store.create(soon, record, NO_LIMIT);
        await store.create(later, makeRecord({ userId: 'alice' }), NO_LIMIT);
        await sleepPast(record.idleExpiresAt);
        expect(sortedKeys(await store.listUser('alice'))).toEqual([later]);
        expect(await store.setField(soon, 's:a', '1')).toBe(false);
        expect(await store.get(soon)).toBeUndefined();
      });

      it('ends an unused session without anyone calling get', async () => {
        const key = newKey();
        const record = makeRecord({ userId: 'alice', idleIn: SHORT });
        await store.create(key, record, NO_LIMIT);
        await sleepPast(record.idleExpiresAt);
        // No read of this key: the store's own expiry must notice it.
        await waitForRemoval(key, 'expired');
        expect(await store.get(key)).toBeUndefined();
      });
    });

    describe('destroy', () => {
      it('removes the session, returns its record and tells subscribers', async () => {
        const key = newKey();
        const record = makeRecord({ userId: 'alice', data: { 's:a': '1' } });
        await store.create(key, record, NO_LIMIT);
        expect(await store.destroy(key)).toEqual(record);
        expect(await store.get(key)).toBeUndefined();
        await waitForRemoval(key, 'destroyed');
        expect(removalsOf(key)).toHaveLength(1);
      });

      it('removes the user index entry', async () => {
        const gone = newKey();
        const stays = newKey();
        await store.create(gone, makeRecord({ userId: 'alice' }), NO_LIMIT);
        await store.create(stays, makeRecord({ userId: 'alice' }), NO_LIMIT);
        await store.destroy(gone);
        expect(sortedKeys(await store.listUser('alice'))).toEqual([stays]);
      });

      it('gives undefined for an absent or already destroyed key', async () => {
        const key = newKey();
        expect(await store.destroy(key)).toBeUndefined();
        await store.create(key, makeRecord(), NO_LIMIT);
        expect(await store.destroy(key)).toBeDefined();
        expect(await store.destroy(key)).toBeUndefined();
      });

      it('lets the key be created afresh afterwards', async () => {
        const key = newKey();
        await store.create(key, makeRecord({ userId: 'alice', data: { 's:old': '1' } }), NO_LIMIT);
        await store.destroy(key);
        expect(await store.create(key, makeRecord({ userId: 'alice' }), NO_LIMIT)).toBe(true);
        expect((await store.get(key))?.data).toEqual({});
      });
    });

    describe('listUser', () => {
      it('lists only that user’s sessions, oldest first', async () => {
        const base = Date.now() - 10_000;
        const [k1, k2, k3] = [newKey(), newKey(), newKey()];
        // Created out of age order, so that insertion order and age disagree.
        await store.create(k2, makeRecord({ userId: 'alice', createdAt: base + 2_000 }), NO_LIMIT);
        await store.create(k3, makeRecord({ userId: 'alice', createdAt: base + 3_000 }), NO_LIMIT);
        await store.create(k1, makeRecord({ userId: 'alice', createdAt: base + 1_000 }), NO_LIMIT);
        await store.create(newKey(), makeRecord({ userId: 'bob', createdAt: base }), NO_LIMIT);
        await store.create(newKey(), makeRecord({ createdAt: base }), NO_LIMIT);
        const listed = await store.listUser('alice');
        expect(listed.map(([key]) => key)).toEqual([k1, k2, k3]);
        expect(listed.every(([, record]) => record.userId === 'alice')).toBe(true);
        expect(listed[0]![1].createdAt).toBe(base + 1_000);
      });

      it('is empty for a user without sessions', async () => {
        expect(await store.listUser('nobody')).toEqual([]);
      });

      it('does not mix users whose ids share a prefix', async () => {
        const key = newKey();
        await store.create(key, makeRecord({ userId: 'al' }), NO_LIMIT);
        await store.create(newKey(), makeRecord({ userId: 'alice' }), NO_LIMIT);
        expect(sortedKeys(await store.listUser('al'))).toEqual([key]);
      });
    });

    describe('closeUser and epochs', () => {
      it('starts every user at epoch 0', async () => {
        expect(await store.epochOf('fresh-user')).toBe(0);
      });

      it('removes every session of the user, returns them and bumps the epoch', async () => {
        const keys = [newKey(), newKey(), newKey()];
        for (const key of keys) await store.create(key, makeRecord({ userId: 'alice' }), NO_LIMIT);
        const bob = newKey();
        const anonymous = newKey();
        await store.create(bob, makeRecord({ userId: 'bob' }), NO_LIMIT);
        await store.create(anonymous, makeRecord(), NO_LIMIT);

        const closed = await store.closeUser('alice');
        expect(sortedKeys(closed)).toEqual([...keys].sort());
        expect(closed.every(([, record]) => record.userId === 'alice')).toBe(true);
        expect(await store.epochOf('alice')).toBe(1);
        expect(await store.listUser('alice')).toEqual([]);
        for (const key of keys) {
          expect(await store.get(key)).toBeUndefined();
          await waitForRemoval(key, 'destroyed');
        }
        // Other users and anonymous sessions are untouched.
        expect(await store.get(bob)).toBeDefined();
        expect(await store.get(anonymous)).toBeDefined();
        expect(await store.epochOf('bob')).toBe(0);
      });

      it('bumps the epoch each time, even without sessions', async () => {
        expect(await store.closeUser('carol')).toEqual([]);
        expect(await store.epochOf('carol')).toBe(1);
        await store.closeUser('carol');
        expect(await store.epochOf('carol')).toBe(2);
      });

      it('makes a session created afterwards with the old epoch dead (a login racing the logout)', async () => {
        const oldEpoch = await store.epochOf('alice');
        await store.closeUser('alice');
        const late = newKey();
        expect(await store.create(late, makeRecord({ userId: 'alice', epoch: oldEpoch }), NO_LIMIT)).toBe(true);
        expect(await store.get(late)).toBeUndefined();
        await waitForRemoval(late, 'destroyed');
        expect(await store.listUser('alice')).toEqual([]);
        expect(await store.setField(late, 's:a', '1')).toBe(false);
      });

      it('keeps sessions created with the new epoch', async () => {
        await store.closeUser('alice');
        const fresh = newKey();
        await store.create(fresh, makeRecord({ userId: 'alice', epoch: await store.epochOf('alice') }), NO_LIMIT);
        expect((await store.get(fresh))?.userId).toBe('alice');
        expect(sortedKeys(await store.listUser('alice'))).toEqual([fresh]);
      });

      it('keeps the user’s persisted fields (user scope outlives logins)', async () => {
        await store.setUserField('alice', 'prefs', '{"lang":"fr"}');
        await store.create(newKey(), makeRecord({ userId: 'alice' }), NO_LIMIT);
        await store.closeUser('alice');
        expect(await store.getUserField('alice', 'prefs')).toBe('{"lang":"fr"}');
      });
    });

    describeReauthContract({ store: () => store, removals: () => removals, newKey, makeRecord, waitForRemoval });

    describe('user fields', () => {
      it('set, get and delete a field', async () => {
        expect(await store.getUserField('alice', 'cart')).toBeUndefined();
        await store.setUserField('alice', 'cart', '[1,2]');
        expect(await store.getUserField('alice', 'cart')).toBe('[1,2]');
        await store.setUserField('alice', 'cart', '[3]');
        expect(await store.getUserField('alice', 'cart')).toBe('[3]');
        await store.setUserField('alice', 'cart', undefined);
        expect(await store.getUserField('alice', 'cart')).toBeUndefined();
      });

      it('keep fields apart per user and per name', async () => {
        await store.setUserField('alice', 'a', '1');
        await store.setUserField('alice', 'b', '2');
        await store.setUserField('bob', 'a', '3');
        expect(await store.getUserField('alice', 'a')).toBe('1');
        expect(await store.getUserField('alice', 'b')).toBe('2');
        expect(await store.getUserField('bob', 'a')).toBe('3');
        expect(await store.getUserField('bob', 'b')).toBeUndefined();
        await store.setUserField('alice', 'a', undefined);
        expect(await store.getUserField('alice', 'b')).toBe('2');
        expect(await store.getUserField('bob', 'a')).toBe('3');
      });

      it('treat field names like __proto__ as plain names', async () => {
        expect(await store.getUserField('alice', '__proto__')).toBeUndefined();
        expect(await store.getUserField('alice', 'constructor')).toBeUndefined();
        await store.setUserField('alice', '__proto__', 'x');
        expect(await store.getUserField('alice', '__proto__')).toBe('x');
      });

      it('do not disturb the user’s epoch', async () => {
        await store.closeUser('alice');
        await store.setUserField('alice', 'a', '1');
        await store.setUserField('alice', 'a', undefined);
        expect(await store.epochOf('alice')).toBe(1);
      });
    });

    describe('anonymous cap', () => {
      it('evicts the oldest anonymous session past maxAnonymous', async () => {
        const limits: StoreLimits = { maxAnonymous: 2 };
        const base = Date.now() - 10_000;
        const [a1, a2, a3] = [newKey(), newKey(), newKey()];
        await store.create(a1, makeRecord({ createdAt: base + 1 }), limits);
        await store.create(a2, makeRecord({ createdAt: base + 2 }), limits);
        expect(removals).toEqual([]);
        await store.create(a3, makeRecord({ createdAt: base + 3 }), limits);
        expect(await store.get(a1)).toBeUndefined();
        await waitForRemoval(a1, 'evicted');
        expect(await store.get(a2)).toBeDefined();
        expect(await store.get(a3)).toBeDefined();
      });

      it('never evicts a connected session', async () => {
        const limits: StoreLimits = { maxAnonymous: 1 };
        const base = Date.now() - 10_000;
        const connected = [newKey(), newKey(), newKey()];
        // The connected sessions are the oldest of all, and outnumber the cap.
        for (const [i, key] of connected.entries()) {
          await store.create(key, makeRecord({ userId: 'alice', createdAt: base + i }), limits);
        }
        const [a1, a2] = [newKey(), newKey()];
        await store.create(a1, makeRecord({ createdAt: base + 10 }), limits);
        await store.create(a2, makeRecord({ createdAt: base + 11 }), limits);
        await waitForRemoval(a1, 'evicted');
        for (const key of connected) expect(await store.get(key)).toBeDefined();
        expect(await store.get(a2)).toBeDefined();
        expect(removals.filter((removal) => connected.includes(removal.key))).toEqual([]);
      });

      it('counts only live anonymous sessions', async () => {
        const limits: StoreLimits = { maxAnonymous: 2 };
        const [a1, a2, a3] = [newKey(), newKey(), newKey()];
        await store.create(a1, makeRecord(), limits);
        await store.create(a2, makeRecord(), limits);
        await store.destroy(a1);
        await store.create(a3, makeRecord(), limits);
        expect(await store.get(a2)).toBeDefined();
        expect(await store.get(a3)).toBeDefined();
        expect(removals.filter((removal) => removal.reason === 'evicted')).toEqual([]);
      });
    });

    describe('anonymous cap per address', () => {
      const A = '192.0.2.10';
      const B = '198.51.100.20';
      const live = async (keys: string[]) => {
        const found: string[] = [];
        for (const key of keys) if ((await store.get(key)) !== undefined) found.push(key);
        return found;
      };
      const evicted = () =>
        removals
          .filter((removal) => removal.reason === 'evicted')
          .map((removal) => removal.key)
          .sort();

      it('evicts the oldest anonymous session of the same address past maxPerAddress, never another address’s', async () => {
        const limits: StoreLimits = { maxAnonymous: Number.MAX_SAFE_INTEGER, maxPerAddress: 2 };
        const base = Date.now() - 10_000;
        // The other address's session is the oldest of all: a global oldest-first queue would evict it first.
        const other = newKey();
        await store.create(other, makeRecord({ ip: B, createdAt: base, data: { 'b:cart': '"pear"' } }), limits);
        const flood = [newKey(), newKey(), newKey(), newKey()];
        for (const [i, key] of flood.entries()) await store.create(key, makeRecord({ ip: A, createdAt: base + 1 + i }), limits);
        await waitForRemoval(flood[0]!, 'evicted');
        await waitForRemoval(flood[1]!, 'evicted');
        expect(await live(flood)).toEqual(flood.slice(2));
        expect((await store.get(other))?.data).toEqual({ 'b:cart': '"pear"' });
        expect(removalsOf(other)).toEqual([]);
        expect(evicted()).toEqual(flood.slice(0, 2).sort());
      });

      it('keeps a flood of concurrent creates from one address to that address', async () => {
        const limits: StoreLimits = { maxAnonymous: Number.MAX_SAFE_INTEGER, maxPerAddress: 3 };
        const others = [newKey(), newKey()];
        await store.create(others[0]!, makeRecord({ ip: B }), limits);
        await store.create(others[1]!, makeRecord({ ip: null }), limits);
        const flood = Array.from({ length: 30 }, () => newKey());
        await Promise.all(flood.map((key) => store.create(key, makeRecord({ ip: A }), limits)));
        await eventually('27 evictions', () => evicted().length === 27);
        expect(await live(flood)).toHaveLength(3);
        expect(await live(others)).toEqual(others);
        expect(evicted().every((key) => flood.includes(key))).toBe(true);
      });

      it('counts the sessions without an address in one shared bucket', async () => {
        const limits: StoreLimits = { maxAnonymous: Number.MAX_SAFE_INTEGER, maxPerAddress: 2 };
        const base = Date.now() - 10_000;
        const withAddress = newKey();
        await store.create(withAddress, makeRecord({ ip: A, createdAt: base }), limits);
        const without = [newKey(), newKey(), newKey()];
        for (const [i, key] of without.entries()) await store.create(key, makeRecord({ ip: null, createdAt: base + 1 + i }), limits);
        await waitForRemoval(without[0]!, 'evicted');
        expect(await live(without)).toEqual(without.slice(1));
        expect(await store.get(withAddress)).toBeDefined();
      });

      it('counts only the live anonymous sessions of the address, never its connected ones', async () => {
        const limits: StoreLimits = { maxAnonymous: Number.MAX_SAFE_INTEGER, maxPerAddress: 2 };
        const connected = [newKey(), newKey(), newKey()];
        for (const key of connected) await store.create(key, makeRecord({ userId: 'alice', ip: A }), limits);
        const [a1, a2, a3] = [newKey(), newKey(), newKey()];
        await store.create(a1, makeRecord({ ip: A }), limits);
        await store.create(a2, makeRecord({ ip: A }), limits);
        await store.destroy(a1);
        await store.create(a3, makeRecord({ ip: A }), limits);
        expect(await live([...connected, a2, a3])).toEqual([...connected, a2, a3]);
        expect(evicted()).toEqual([]);
      });

      it('applies maxAnonymous over all addresses as well', async () => {
        const limits: StoreLimits = { maxAnonymous: 3, maxPerAddress: 2 };
        const base = Date.now() - 10_000;
        const [b1, a1, a2, a3, c1] = [newKey(), newKey(), newKey(), newKey(), newKey()];
        await store.create(b1, makeRecord({ ip: B, createdAt: base }), limits);
        await store.create(a1, makeRecord({ ip: A, createdAt: base + 1 }), limits);
        await store.create(a2, makeRecord({ ip: A, createdAt: base + 2 }), limits);
        // A's third pushes out A's first, which keeps the total within maxAnonymous.
        await store.create(a3, makeRecord({ ip: A, createdAt: base + 3 }), limits);
        await waitForRemoval(a1, 'evicted');
        expect(await live([b1, a2, a3])).toEqual([b1, a2, a3]);
        // A fourth address brings the total past maxAnonymous: the oldest of all goes.
        await store.create(c1, makeRecord({ ip: '203.0.113.30', createdAt: base + 4 }), limits);
        await waitForRemoval(b1, 'evicted');
        expect(await live([a2, a3, c1])).toEqual([a2, a3, c1]);
        expect(evicted()).toEqual([a1, b1].sort());
      });
    });

    describe('subscribe', () => {
      it('tells every listener, and none after it unsubscribed', async () => {
        const first: StoreRemoval[] = [];
        const second: StoreRemoval[] = [];
        const offFirst = store.subscribe((removal) => first.push(removal));
        const offSecond = store.subscribe((removal) => second.push(removal));
        const k1 = newKey();
        await store.create(k1, makeRecord({ userId: 'alice' }), NO_LIMIT);
        await store.destroy(k1);
        await eventually('both listeners to hear of k1', () => first.length === 1 && second.length === 1);
        expect(first[0]).toMatchObject({ key: k1, reason: 'destroyed' });

        offFirst();
        const k2 = newKey();
        await store.create(k2, makeRecord({ userId: 'alice' }), NO_LIMIT);
        await store.destroy(k2);
        // Once the listener still subscribed has heard of k2, the other one would have too.
        await eventually('the remaining listener to hear of k2', () => second.length === 2);
        await waitForRemoval(k2, 'destroyed');
        expect(first).toHaveLength(1);
        offSecond();
      });

      it('survives a listener that throws', async () => {
        const off = store.subscribe(() => {
          throw new Error('listener bug');
        });
        const key = newKey();
        await store.create(key, makeRecord({ userId: 'alice' }), NO_LIMIT);
        await expect(store.destroy(key)).resolves.toBeDefined();
        await waitForRemoval(key, 'destroyed');
        expect(await store.get(key)).toBeUndefined();
        // Not swallowed: the operator learns of the bug.
        expect(log.errors).toContain('A store listener failed: listener bug');
        off();
      });
    });

    if (options.trimUser)
      describe('trimUser', () => {
        /** The store's `trimUser`, which this block requires. */
        const trimUser = (userId: string, max: number, candidates: readonly string[]) => {
          if (store.trimUser === undefined) throw new Error(`${name} has no trimUser, yet its contract says it has one`);
          return store.trimUser(userId, max, candidates);
        };

        /** `count` sessions of `userId`, created in age order (oldest first). */
        async function sessionsOf(userId: string, count: number): Promise<string[]> {
          const base = Date.now() - 10_000;
          const keys = Array.from({ length: count }, () => newKey());
          for (const [i, key] of keys.entries()) await store.create(key, makeRecord({ userId, createdAt: base + i }), NO_LIMIT);
          return keys;
        }

        it('removes the oldest candidates past max, returns them oldest first and reports them destroyed', async () => {
          const base = Date.now() - 10_000;
          const keys = [newKey(), newKey(), newKey(), newKey()];
          const records = keys.map((_, i) => makeRecord({ userId: 'alice', createdAt: base + i, data: { 's:n': String(i) } }));
          // Stored out of age order: "oldest" is by creation time, as listUser orders.
          for (const i of [2, 0, 3, 1]) await store.create(keys[i]!, records[i]!, NO_LIMIT);
          const removed = await trimUser('alice', 2, [...keys].reverse());
          expect(removed).toEqual([
            [keys[0], records[0]],
            [keys[1], records[1]],
          ]);
          expect((await store.listUser('alice')).map(([key]) => key)).toEqual(keys.slice(2));
          for (const key of keys.slice(0, 2)) {
            expect(await store.get(key)).toBeUndefined();
            await waitForRemoval(key, 'destroyed');
          }
          expect(removals.filter((removal) => keys.slice(2).includes(removal.key))).toEqual([]);
        });

        it('removes only candidates: fewer than the excess when the candidates are fewer', async () => {
          const keys = await sessionsOf('alice', 4);
          const removed = await trimUser('alice', 1, [keys[3]!, keys[0]!]);
          expect(removed.map(([key]) => key)).toEqual([keys[0], keys[3]]);
          expect((await store.listUser('alice')).map(([key]) => key)).toEqual([keys[1], keys[2]]);
        });

        it('removes nothing within the bound, nor keys of other users or unknown keys', async () => {
          const keys = await sessionsOf('alice', 2);
          const bob = await sessionsOf('bob', 1);
          expect(await trimUser('alice', 2, keys)).toEqual([]);
          expect(await trimUser('alice', 0, [...bob, newKey()])).toEqual([]);
          expect(await trimUser('nobody', 0, keys)).toEqual([]);
          expect(sortedKeys(await store.listUser('alice'))).toEqual([...keys].sort());
          expect(sortedKeys(await store.listUser('bob'))).toEqual(bob);
          expect(removals).toEqual([]);
        });

        it('lets concurrent trims remove, together, exactly the excess, each session once', async () => {
          const keys = await sessionsOf('alice', 10);
          const results = await Promise.all(Array.from({ length: 5 }, () => trimUser('alice', 3, keys)));
          const removed = results.flat().map(([key]) => key);
          expect([...removed].sort()).toEqual(keys.slice(0, 7).sort());
          expect((await store.listUser('alice')).map(([key]) => key)).toEqual(keys.slice(7));
        });

        it('parallel logins that each create, list and trim end with exactly max sessions, the newest', async () => {
          const max = 5;
          const base = Date.now() - 10_000;
          const keys = Array.from({ length: 20 }, () => newKey());
          const removed = await Promise.all(
            keys.map(async (key, i) => {
              await store.create(key, makeRecord({ userId: 'alice', createdAt: base + i }), NO_LIMIT);
              const listed = await store.listUser('alice');
              if (listed.length <= max) return [];
              const candidates = listed.slice(0, listed.length - max).map(([listedKey]) => listedKey);
              return (await trimUser('alice', max, candidates)).map(([trimmed]) => trimmed);
            }),
          );
          expect((await store.listUser('alice')).map(([key]) => key)).toEqual(keys.slice(-max));
          expect(removed.flat().sort()).toEqual(keys.slice(0, -max).sort());
        });
      });

    // The same answers as `get`, with the same removals, but synchronous: the library takes it instead of `get` on
    // the path of every request, so any difference would be a difference in who is let in.
    if (options.peek)
      describe('peek', () => {
        /** The store's `peek`, which this block requires. */
        const peek = (key: string): SessionRecord | undefined => {
          if (store.peek === undefined) throw new Error(`${name} has no peek, yet its contract says it has one`);
          return store.peek(key);
        };

        it('answers a live session with the record get gives, synchronously', async () => {
          const key = newKey();
          const record = makeRecord({ userId: 'alice', data: { 's:cart': '[1]', 'b:theme': '"dark"' } });
          await store.create(key, record, NO_LIMIT);
          const peeked = peek(key);
          expect(peeked).not.toBeInstanceOf(Promise);
          expect(peeked).toEqual(record);
          expect(peeked).toEqual(await store.get(key));
          const anonymous = newKey();
          await store.create(anonymous, makeRecord({ data: { 'b:cart': '[]' } }), NO_LIMIT);
          expect(peek(anonymous)).toEqual(await store.get(anonymous));
          expect(peek(anonymous)?.userId).toBeUndefined();
          expect(removals).toEqual([]);
        });

        it('gives undefined for an absent key, as get does, and emits nothing', async () => {
          const key = newKey();
          expect(peek(key)).toBeUndefined();
          expect(await store.get(key)).toBeUndefined();
          await store.create(key, makeRecord({ userId: 'alice' }), NO_LIMIT);
          await store.destroy(key);
          await waitForRemoval(key, 'destroyed');
          expect(peek(key)).toBeUndefined();
          expect(removalsOf(key)).toHaveLength(1);
        });

        it('gives undefined for an expired session and removes it as expired, telling listeners once', async () => {
          const key = newKey();
          const record = makeRecord({ userId: 'alice', idleIn: SHORT });
          await store.create(key, record, NO_LIMIT);
          expect(peek(key)).toBeDefined();
          await sleepPast(record.idleExpiresAt);
          expect(peek(key)).toBeUndefined();
          await waitForRemoval(key, 'expired');
          // Read again, both ways: the session is gone, not expired a second time.
          expect(peek(key)).toBeUndefined();
          expect(await store.get(key)).toBeUndefined();
          expect(sortedKeys(await store.listUser('alice'))).toEqual([]);
          await sleep(50);
          expect(removalsOf(key).map((removal) => removal.reason)).toEqual(['expired']);
        });

        it('gives undefined for a session behind its user’s epoch and removes it as destroyed, once', async () => {
          const oldEpoch = await store.epochOf('alice');
          await store.closeUser('alice');
          const late = newKey();
          await store.create(late, makeRecord({ userId: 'alice', epoch: oldEpoch }), NO_LIMIT);
          expect(peek(late)).toBeUndefined();
          await waitForRemoval(late, 'destroyed');
          expect(peek(late)).toBeUndefined();
          expect(await store.get(late)).toBeUndefined();
          expect(await store.listUser('alice')).toEqual([]);
          await sleep(50);
          expect(removalsOf(late).map((removal) => removal.reason)).toEqual(['destroyed']);
        });

        it('follows writes: setField, deleteField and touch show in the next peek', async () => {
          const key = newKey();
          await store.create(key, makeRecord({ userId: 'alice', data: { 's:a': '1' } }), NO_LIMIT);
          await store.setField(key, 's:b', '2');
          await store.deleteField(key, 's:a');
          const now = Date.now();
          await store.touch(key, now, now + HOUR);
          const peeked = peek(key);
          expect(peeked?.data).toEqual({ 's:b': '2' });
          expect(peeked?.lastSeenAt).toBe(now);
          expect(peeked?.idleExpiresAt).toBe(now + HOUR);
          expect(peeked).toEqual(await store.get(key));
        });

        it('hands out records whose changes never reach the store', async () => {
          const key = newKey();
          const record = makeRecord({ userId: 'alice', data: { 's:a': '1' } });
          const expected = structuredClone(record);
          await store.create(key, record, NO_LIMIT);
          // The record given to create, then one read by peek and one read by get, all changed by their caller.
          record.data['s:created'] = 'x';
          record.idleExpiresAt = 0;
          for (const read of [peek(key)!, (await store.get(key))!]) {
            read.data['s:mutated'] = 'x';
            delete read.data['s:a'];
            read.lastSeenAt = 0;
            read.idleExpiresAt = 0;
            read.epoch = 99;
            read.userId = 'mallory';
            read.userAgent = 'changed';
          }
          expect(peek(key)).toEqual(expected);
          expect(await store.get(key)).toEqual(expected);
          expect(sortedKeys(await store.listUser('alice'))).toEqual([key]);
          expect(await store.listUser('mallory')).toEqual([]);
          expect(removals).toEqual([]);
        });
      });
  });
}
