import { SessionKey, type SessionValueCodec } from '../../../lib/stores/session-key.js';

// Key names are global to the process (the name identifies the value in the store): each test uses its own.
describe('SessionKey', () => {
  it('defaults to the session scope, in memory only', () => {
    const key = new SessionKey<number>('key.defaults');
    expect(key.name).toBe('key.defaults');
    expect(key.scope).toBe('session');
    expect(key.codec).toBeUndefined();
    expect(key.onDelete).toBeUndefined();
    expect(key.onNoClient).toBeUndefined();
  });

  it('accepts names of letters, digits and _ . : - up to 128 characters', () => {
    expect(new SessionKey('Key_1.a:b-c').name).toBe('Key_1.a:b-c');
    expect(new SessionKey('k'.repeat(128)).name).toHaveLength(128);
  });

  it.each([
    ['empty', ''],
    ['too long', 'k'.repeat(129)],
    ['a space', 'my key'],
    ['a slash', 'a/b'],
    ['a semicolon', 'a;b'],
    ['a newline', 'a\nb'],
    ['non-ASCII', 'clé'],
    ['not a string', 42 as unknown as string],
  ])('rejects a name with %s', (_, name) => {
    expect(() => new SessionKey(name)).toThrow(/must be 1-128 characters/);
  });

  it('rejects an unknown scope', () => {
    expect(() => new SessionKey('key.badscope', { scope: 'global' as 'session' })).toThrow(/unknown scope 'global'/);
  });

  it('refuses a second key with the same name, and keeps the first', () => {
    const first = new SessionKey<string>('key.dup');
    expect(() => new SessionKey<string>('key.dup', { scope: 'user' })).toThrow(/exists already/);
    expect(SessionKey.named('key.dup')).toBe(first);
  });

  it('does not register a key whose options are refused', () => {
    expect(() => new SessionKey('key.refused', { scope: 'process', persist: true })).toThrow();
    expect(SessionKey.named('key.refused')).toBeUndefined();
    expect(new SessionKey('key.refused').scope).toBe('session');
  });

  it('refuses persist on a process-scoped key, with or without a codec', () => {
    expect(() => new SessionKey('key.proc1', { scope: 'process', persist: true })).toThrow(/cannot persist/);
    const codec: SessionValueCodec<string> = { serialize: (v) => v, deserialize: (s) => s };
    expect(() => new SessionKey('key.proc2', { scope: 'process', persist: codec })).toThrow(/cannot persist/);
    expect(new SessionKey('key.proc3', { scope: 'process' }).codec).toBeUndefined();
  });

  it('persists as JSON by default', () => {
    const key = new SessionKey<{ items: number[]; note: string }>('key.json', { persist: true, scope: 'browser' });
    const value = { items: [1, 2], note: 'é"\n' };
    const text = key.codec!.serialize(value);
    expect(text).toBe(JSON.stringify(value));
    expect(key.codec!.deserialize(text)).toEqual(value);
  });

  it('writes numbers and booleans as JSON.stringify does, whatever the number', () => {
    const key = new SessionKey<unknown>('key.json-scalars', { persist: true });
    const numbers = [0, -0, 1, -1, 7, 42, 2 ** 31, -(2 ** 53), 1.5, -0.1, 1e21, 1e-7, 5e-324, Number.MAX_VALUE, NaN, Infinity, -Infinity];
    for (let i = 0; i < 1000; i++) numbers.push((i - 500) * 1.37, Math.round((i - 500) ** 3));
    for (const value of [...numbers, true, false, null, 'text', [0, true], { n: 0 }]) {
      expect(key.codec!.serialize(value)).toBe(JSON.stringify(value));
    }
    expect(key.codec!.deserialize(key.codec!.serialize(0))).toBe(0);
    expect(key.codec!.deserialize(key.codec!.serialize(false))).toBe(false);
  });

  it('uses a custom codec as given', () => {
    const codec: SessionValueCodec<Date> = {
      serialize: (date) => String(date.getTime()),
      deserialize: (text) => new Date(Number(text)),
    };
    const key = new SessionKey<Date>('key.codec', { persist: codec, scope: 'user' });
    expect(key.codec).toBe(codec);
    expect(key.codec!.serialize(new Date(5))).toBe('5');
    expect(key.codec!.deserialize('7')).toEqual(new Date(7));
  });

  it('has no codec with persist: false', () => {
    expect(new SessionKey('key.nopersist', { persist: false }).codec).toBeUndefined();
  });

  it('keeps its callbacks', () => {
    const onDelete = (value: string) => void value;
    const onNoClient = (value: string) => value.length > 0;
    const key = new SessionKey<string>('key.callbacks', { onDelete, onNoClient });
    expect(key.onDelete).toBe(onDelete);
    expect(key.onNoClient).toBe(onNoClient);
  });

  it('finds keys by name', () => {
    const key = new SessionKey('key.named');
    expect(SessionKey.named('key.named')).toBe(key);
    expect(SessionKey.named('key.never-created')).toBeUndefined();
  });
});
