import { authenticatedAtOf, decodeSessionRecord, expiresAt, type SessionRecord } from '../../../lib/stores/session-record.js';

/** A valid record as it would come out of a snapshot file or Redis: plain JSON. */
function raw(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    userId: 'alice',
    epoch: 2,
    createdAt: 1_000,
    lastSeenAt: 2_000,
    idleExpiresAt: 5_000,
    absoluteExpiresAt: 9_000,
    ip: '10.0.0.1',
    userAgent: 'test agent',
    data: { 's:cart': '[1,2]', 'b:theme': '"dark"' },
    ...overrides,
  };
}

describe('decodeSessionRecord', () => {
  it('accepts a valid record and keeps every field', () => {
    const record = decodeSessionRecord(JSON.parse(JSON.stringify(raw())));
    expect(record).toEqual(raw());
  });

  it('accepts an anonymous record without optional fields', () => {
    const input = raw();
    delete input.userId;
    delete input.ip;
    delete input.userAgent;
    input.epoch = 0;
    input.data = {};
    const record = decodeSessionRecord(input);
    expect(record).toEqual({ epoch: 0, createdAt: 1_000, lastSeenAt: 2_000, idleExpiresAt: 5_000, absoluteExpiresAt: 9_000, data: {} });
    expect(record).not.toHaveProperty('userId');
  });

  it('keeps the actor of an impersonated session, and reads a record without one as not impersonated', () => {
    expect(decodeSessionRecord(raw({ actorId: 'root' }))).toEqual(raw({ actorId: 'root' }));
    expect(decodeSessionRecord(raw({ actorId: 'root', actorEpoch: 4 }))).toEqual(raw({ actorId: 'root', actorEpoch: 4 }));
    expect(decodeSessionRecord(raw())).not.toHaveProperty('actorId');
  });

  it('keeps authenticatedAt and a browser-session cookie, and reads a record without authenticatedAt as created then', () => {
    const record = decodeSessionRecord(raw({ authenticatedAt: 1_500, browserSessionCookie: true }))!;
    expect(record).toEqual(raw({ authenticatedAt: 1_500, browserSessionCookie: true }));
    expect(authenticatedAtOf(record)).toBe(1_500);
    const older = decodeSessionRecord(raw())!;
    expect(older).not.toHaveProperty('authenticatedAt');
    expect(authenticatedAtOf(older)).toBe(1_000);
    // false is the default, a persistent cookie: not kept, so that both spellings give one record.
    expect(decodeSessionRecord(raw({ browserSessionCookie: false }))).not.toHaveProperty('browserSessionCookie');
  });

  it('gives a data object without a prototype, so field names cannot reach Object.prototype', () => {
    const record = decodeSessionRecord(raw())!;
    expect(Object.getPrototypeOf(record.data)).toBeNull();
  });

  it('drops unknown top-level fields', () => {
    const record = decodeSessionRecord(raw({ isAdmin: true }));
    expect(record).toBeDefined();
    expect(record).not.toHaveProperty('isAdmin');
  });

  describe('rejects __proto__', () => {
    it('as a top-level key', () => {
      const input: unknown = JSON.parse(`{"__proto__": {"userId": "root"}, ${JSON.stringify(raw()).slice(1)}`);
      expect(Object.prototype.hasOwnProperty.call(input, '__proto__')).toBe(true);
      expect(decodeSessionRecord(input)).toBeUndefined();
    });

    it('as a data key', () => {
      const input = JSON.parse(JSON.stringify(raw()).replace('"data":{', '"data":{"__proto__":"x",')) as { data: object };
      expect(Object.prototype.hasOwnProperty.call(input.data, '__proto__')).toBe(true);
      expect(decodeSessionRecord(input)).toBeUndefined();
    });
  });

  it.each([
    ['null', null],
    ['a string', 'record'],
    ['a number', 42],
    ['an array', [raw()]],
  ])('rejects %s', (_, input) => {
    expect(decodeSessionRecord(input)).toBeUndefined();
  });

  it.each<[string, Record<string, unknown>]>([
    ['a numeric userId', { userId: 7 }],
    ['an empty userId', { userId: '' }],
    ['a fractional epoch', { epoch: 1.5 }],
    ['a negative epoch', { epoch: -1 }],
    ['a string epoch', { epoch: '1' }],
    ['a missing createdAt', { createdAt: undefined }],
    ['a string lastSeenAt', { lastSeenAt: '2000' }],
    ['a NaN idleExpiresAt', { idleExpiresAt: Number.NaN }],
    ['an infinite absoluteExpiresAt', { absoluteExpiresAt: Number.POSITIVE_INFINITY }],
    ['a negative time', { createdAt: -5 }],
    ['a string authenticatedAt', { authenticatedAt: '1500' }],
    ['a negative authenticatedAt', { authenticatedAt: -1 }],
    ['a NaN authenticatedAt', { authenticatedAt: Number.NaN }],
    ['a string browserSessionCookie', { browserSessionCookie: 'true' }],
    ['an empty actorId', { actorId: '' }],
    ['a numeric actorId', { actorId: 7 }],
    ['an actorId without a userId', { userId: undefined, actorId: 'root' }],
    ['an actorEpoch without an actorId', { actorEpoch: 1 }],
    ['a fractional actorEpoch', { actorId: 'root', actorEpoch: 0.5 }],
    ['a numeric ip', { ip: 127001 }],
    ['an object userAgent', { userAgent: {} }],
    ['missing data', { data: undefined }],
    ['null data', { data: null }],
    ['array data', { data: ['s:a'] }],
    ['a non-string data value', { data: { 's:count': 3 } }],
    ['a nested data value', { data: { 's:cart': { items: [] } } }],
  ])('rejects %s', (_, overrides) => {
    expect(decodeSessionRecord(raw(overrides))).toBeUndefined();
  });

  it.each([['u:name'], ['p:tab'], ['cart'], ['S:cart'], ['']])('rejects the unknown field name %j', (field) => {
    expect(decodeSessionRecord(raw({ data: { 's:ok': '1', [field]: '1' } }))).toBeUndefined();
  });
});

describe('expiresAt', () => {
  it('is the earlier of the idle and absolute expiries', () => {
    const record = decodeSessionRecord(raw()) as SessionRecord;
    expect(expiresAt(record)).toBe(5_000);
    expect(expiresAt({ ...record, idleExpiresAt: 12_000 })).toBe(9_000);
  });
});
