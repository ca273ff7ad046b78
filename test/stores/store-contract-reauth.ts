import type { SessionRecord } from '../../lib/stores/session-record.js';
import type { SessionStore, StoreLimits, StoreRemoval } from '../../lib/stores/session-store.js';

/**
 * The part of the store contract that re-authentication and "log out the other devices" rely on (issue 13): the
 * record's `authenticatedAt` and cookie kind, `destroy(key, movedTo)` (a session that goes on under a new id), and
 * `closeUser(userId, keep)` (every session of the user but one). Defined inside `runStoreContract`, on its store.
 */
export interface ReauthContractContext {
  store(): SessionStore;
  removals(): StoreRemoval[];
  newKey(): string;
  makeRecord(options?: { userId?: string; epoch?: number; createdAt?: number; data?: Record<string, string> }): SessionRecord;
  waitForRemoval(key: string, reason: StoreRemoval['reason']): Promise<void>;
}

const NO_LIMIT: StoreLimits = { maxAnonymous: Number.MAX_SAFE_INTEGER };

const sortedKeys = (entries: Array<[string, SessionRecord]>) => entries.map(([key]) => key).sort();

export function describeReauthContract(c: ReauthContractContext): void {
  const removalsOf = (key: string) => c.removals().filter((removal) => removal.key === key);

  describe('authenticatedAt and the cookie kind', () => {
    it('keeps both field for field, in get and listUser', async () => {
      const store = c.store();
      const key = c.newKey();
      const record = { ...c.makeRecord({ userId: 'alice', createdAt: Date.now() - 5000 }), authenticatedAt: Date.now() - 1000 };
      record.browserSessionCookie = true;
      await store.create(key, record, NO_LIMIT);
      expect(await store.get(key)).toEqual(record);
      expect(await store.listUser('alice')).toEqual([[key, record]]);
    });

    it('gives back a record written without them without them (older records: read as createdAt)', async () => {
      const store = c.store();
      const key = c.newKey();
      await store.create(key, c.makeRecord({ userId: 'alice' }), NO_LIMIT);
      const read = await store.get(key);
      expect(read).toBeDefined();
      expect(Object.keys(read!)).not.toContain('authenticatedAt');
      expect(Object.keys(read!)).not.toContain('browserSessionCookie');
    });
  });

  describe('actorId (impersonation)', () => {
    it('keeps the actor of an impersonated session in get, listUser, closeUser and the removal it reports', async () => {
      const store = c.store();
      const [impersonated, own] = [c.newKey(), c.newKey()];
      const record: SessionRecord = {
        ...c.makeRecord({ userId: 'alice', data: { 's:a': '1' } }),
        actorId: 'root',
        actorEpoch: 3,
        authenticatedAt: Date.now() - 1000,
      };
      await store.create(impersonated, record, NO_LIMIT);
      await store.create(own, c.makeRecord({ userId: 'alice' }), NO_LIMIT);
      expect(await store.get(impersonated)).toEqual(record);
      expect(await store.listUser('alice')).toEqual(expect.arrayContaining([[impersonated, record]]));
      expect((await store.get(own))?.actorId).toBeUndefined();
      // Listed under the user it acts as, never the actor: the actor's sessions are theirs only.
      expect(await store.listUser('root')).toEqual([]);
      const closed = await store.closeUser('alice');
      expect(closed).toEqual(expect.arrayContaining([[impersonated, record]]));
      await c.waitForRemoval(impersonated, 'destroyed');
      expect(await store.get(impersonated)).toBeUndefined();
    });

    it('gives back a record written without it without it (not impersonated)', async () => {
      const store = c.store();
      const key = c.newKey();
      await store.create(key, c.makeRecord({ userId: 'alice' }), NO_LIMIT);
      expect(Object.keys((await store.get(key))!)).not.toContain('actorId');
      expect(Object.keys((await store.get(key))!)).not.toContain('actorEpoch');
    });
  });

  describe('destroy with movedTo', () => {
    it('reports the removal with the new key, leaves the new session alone, and a plain destroy has none', async () => {
      const store = c.store();
      const [from, to, plain] = [c.newKey(), c.newKey(), c.newKey()];
      const record = c.makeRecord({ userId: 'alice', data: { 's:a': '1' } });
      for (const key of [from, to, plain]) await store.create(key, record, NO_LIMIT);
      expect(await store.destroy(from, to)).toEqual(record);
      await store.destroy(plain);
      await c.waitForRemoval(from, 'destroyed');
      await c.waitForRemoval(plain, 'destroyed');
      expect(removalsOf(from)).toEqual([expect.objectContaining({ key: from, reason: 'destroyed', movedTo: to })]);
      expect(removalsOf(plain)[0]?.movedTo).toBeUndefined();
      expect(await store.get(from)).toBeUndefined();
      expect(await store.get(to)).toEqual(record);
      expect(removalsOf(to)).toEqual([]);
      expect(sortedKeys(await store.listUser('alice'))).toEqual([to]);
    });

    it('gives undefined and reports nothing for an absent key', async () => {
      const store = c.store();
      const [from, to] = [c.newKey(), c.newKey()];
      await store.create(to, c.makeRecord({ userId: 'alice' }), NO_LIMIT);
      expect(await store.destroy(from, to)).toBeUndefined();
      // A removal of another session, reported after: once it is heard, one of `from` would have been too.
      const marker = c.newKey();
      await store.create(marker, c.makeRecord(), NO_LIMIT);
      await store.destroy(marker);
      await c.waitForRemoval(marker, 'destroyed');
      expect(removalsOf(from)).toEqual([]);
      expect(await store.get(to)).toBeDefined();
    });
  });

  describe('closeUser with keep', () => {
    it('keeps that session, carried into the new epoch, and removes every other session of the user', async () => {
      const store = c.store();
      const [kept, other, third] = [c.newKey(), c.newKey(), c.newKey()];
      const bob = c.newKey();
      const record = c.makeRecord({ userId: 'alice', data: { 's:note': '"kept"' } });
      for (const key of [kept, other, third]) await store.create(key, record, NO_LIMIT);
      await store.create(bob, c.makeRecord({ userId: 'bob' }), NO_LIMIT);

      const closed = await store.closeUser('alice', kept);
      expect(sortedKeys(closed)).toEqual([other, third].sort());
      expect(await store.epochOf('alice')).toBe(1);
      expect(await store.get(kept)).toEqual({ ...record, epoch: 1 });
      expect(sortedKeys(await store.listUser('alice'))).toEqual([kept]);
      await c.waitForRemoval(other, 'destroyed');
      await c.waitForRemoval(third, 'destroyed');
      expect(removalsOf(kept)).toEqual([]);
      // The kept session is a session like any other: written to, and closed by the next closeUser.
      expect(await store.setField(kept, 's:after', '1')).toBe(true);
      expect((await store.get(bob))?.epoch).toBe(0);
      expect(await store.epochOf('bob')).toBe(0);
      expect(sortedKeys(await store.closeUser('alice'))).toEqual([kept]);
      expect(await store.get(kept)).toBeUndefined();
    });

    it('never lets a read racing the close find the kept session dead', async () => {
      const store = c.store();
      const kept = c.newKey();
      await store.create(kept, c.makeRecord({ userId: 'alice' }), NO_LIMIT);
      for (let i = 0; i < 3; i++) await store.create(c.newKey(), c.makeRecord({ userId: 'alice' }), NO_LIMIT);
      const reads = Array.from({ length: 20 }, () => store.get(kept));
      const [closed, ...read] = await Promise.all([store.closeUser('alice', kept), ...reads, store.get(kept)]);
      expect(closed).toHaveLength(3);
      expect(read.every((record) => record?.userId === 'alice')).toBe(true);
      expect((await store.get(kept))?.epoch).toBe(1);
      expect(removalsOf(kept)).toEqual([]);
    });

    it('keeps nothing for a key that is not a live session of that user, and leaves that session alone', async () => {
      const store = c.store();
      const [alice, bob] = [c.newKey(), c.newKey()];
      await store.create(alice, c.makeRecord({ userId: 'alice' }), NO_LIMIT);
      await store.create(bob, c.makeRecord({ userId: 'bob' }), NO_LIMIT);
      expect(sortedKeys(await store.closeUser('alice', bob))).toEqual([alice]);
      expect(await store.get(bob)).toEqual(expect.objectContaining({ userId: 'bob', epoch: 0 }));
      expect(await store.closeUser('alice', c.newKey())).toEqual([]);
      expect(await store.epochOf('alice')).toBe(2);
    });

    it('does not keep a session that is behind its user’s epoch already', async () => {
      const store = c.store();
      const stale = c.newKey();
      await store.closeUser('alice');
      // A login that read epoch 0 before that close: dead on arrival, and no keep brings it back.
      await store.create(stale, c.makeRecord({ userId: 'alice', epoch: 0 }), NO_LIMIT);
      await store.closeUser('alice', stale);
      expect(await store.get(stale)).toBeUndefined();
    });

    it('lets a racing closeUser without keep end the session all the same', async () => {
      const store = c.store();
      const kept = c.newKey();
      await store.create(kept, c.makeRecord({ userId: 'alice' }), NO_LIMIT);
      await Promise.all([store.closeUser('alice', kept), store.closeUser('alice')]);
      expect(await store.get(kept)).toBeUndefined();
      expect(await store.listUser('alice')).toEqual([]);
      expect(await store.epochOf('alice')).toBe(2);
    });

    it('makes a session created afterwards with the old epoch dead, as without keep', async () => {
      const store = c.store();
      const kept = c.newKey();
      await store.create(kept, c.makeRecord({ userId: 'alice' }), NO_LIMIT);
      await store.closeUser('alice', kept);
      const late = c.newKey();
      await store.create(late, c.makeRecord({ userId: 'alice', epoch: 0 }), NO_LIMIT);
      expect(await store.get(late)).toBeUndefined();
      expect(sortedKeys(await store.listUser('alice'))).toEqual([kept]);
    });
  });
}
