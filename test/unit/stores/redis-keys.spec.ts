import { RedisKeys } from '../../../lib/stores/redis/redis-keys.js';

/** CRC16-XMODEM, as Redis Cluster computes it. */
function crc16(text: string): number {
  let crc = 0;
  for (const byte of Buffer.from(text, 'utf8')) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The Cluster slot of a key: its hash tag (the first `{`, the first `}` after it, something between) or all of it. */
function slotOf(key: string): number {
  const open = key.indexOf('{');
  const close = open === -1 ? -1 : key.indexOf('}', open + 1);
  return crc16(close > open + 1 ? key.slice(open + 1, close) : key) % 16384;
}

describe('RedisKeys', () => {
  it('computes slots as Redis does (the reference values of the Cluster specification)', () => {
    expect(crc16('123456789')).toBe(0x31c3);
    expect(slotOf('{user1000}.following')).toBe(slotOf('{user1000}.followers'));
    expect(slotOf('foo{}{bar}')).toBe(crc16('foo{}{bar}') % 16384);
    expect(slotOf('foo{{bar}}zap')).toBe(crc16('{bar') % 16384);
  });

  describe.each(['nc:', 'app:', '', '{app}:', 'x{app}y:', 'a.b-c_d@e:'])('with the prefix %p', (prefix) => {
    const keys = new RedisKeys(prefix);

    it('names the session key of a session hash, and none of any other key (what an invalidation message names)', () => {
      for (const key of ['abc', 's:x', 'A-_9'.repeat(11)]) expect(keys.sessionKeyOf(keys.session(key))).toBe(key);
      for (const other of [keys.user('alice'), keys.userSessions('alice'), keys.anonymous, keys.expiryShard(3), keys.channel]) {
        expect(keys.sessionKeyOf(other)).toBeUndefined();
      }
      expect(keys.sessionKeyOf(keys.session(''))).toBeUndefined();
      expect(keys.sessionKeyOf(`other:${keys.session('abc')}`)).toBeUndefined();
    });

    it.each(['192.0.2.1', '2001:db8::1', '}{', 'a}b{c', undefined])('puts the set of address %p on the anonymous set’s slot', (ip) => {
      const key = keys.anonymousOf(ip);
      expect(key.startsWith(prefix)).toBe(true);
      expect(slotOf(key)).toBe(slotOf(keys.anonymous));
    });

    it('gives distinct addresses distinct sets, and records without an address one set of their own', () => {
      const names = ['192.0.2.1', '192.0.2.10', '::1', '%003a%003a1', 'n', 'a:n'].map((ip) => keys.anonymousOf(ip));
      names.push(keys.anonymousOf(undefined));
      expect(new Set(names).size).toBe(names.length);
      // The address is escaped: no brace of it can open or close a hash tag.
      expect(keys.anonymousOf('}{').endsWith(':a:%007d%007b')).toBe(true);
    });
  });
});
