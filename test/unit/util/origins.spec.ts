import { normaliseOrigins, originOf, ownOrigin } from '../../../lib/util/origins.js';

describe('ownOrigin', () => {
  it('takes the scheme from the secure fact and the host and port from Host, as browsers serialise Origin', () => {
    expect(ownOrigin('app.example.test:3000', false)).toBe('http://app.example.test:3000');
    expect(ownOrigin('app.example.test:3000', true)).toBe('https://app.example.test:3000');
    expect(ownOrigin('APP.Example.TEST', true)).toBe('https://app.example.test');
    expect(ownOrigin('[::1]:8080', false)).toBe('http://[::1]:8080');
  });

  it('drops the default port of the scheme, as Origin never carries it', () => {
    expect(ownOrigin('app.example.test:443', true)).toBe('https://app.example.test');
    expect(ownOrigin('app.example.test:80', false)).toBe('http://app.example.test');
    expect(ownOrigin('app.example.test:443', false)).toBe('http://app.example.test:443');
  });

  it('is undefined for a missing Host or one that is not a bare authority, so that no Origin matches it', () => {
    for (const host of [
      undefined,
      ['a', 'b'],
      '',
      'evil.test/@app.example.test',
      'user@app.example.test',
      'a b',
      'app.example.test:99999x',
    ]) {
      expect(ownOrigin(host, false)).toBeUndefined();
    }
  });
});

describe('originOf', () => {
  it('serialises an http(s) Origin and keeps the opaque origin as null', () => {
    expect(originOf('https://App.Example.test:443')).toBe('https://app.example.test');
    expect(originOf('http://app.example.test:8080')).toBe('http://app.example.test:8080');
    expect(originOf('null')).toBe('null');
  });

  it('is undefined for what a browser never sends: lists, other schemes, garbage, non-strings', () => {
    for (const value of ['http://a.test, http://b.test', 'ftp://a.test', 'file:///etc', 'nonsense', '', undefined, ['http://a.test']]) {
      expect(originOf(value)).toBeUndefined();
    }
  });
});

describe('normaliseOrigins', () => {
  it('normalises entries and keeps their order', () => {
    expect(normaliseOrigins(['https://APP.example.test/', 'http://b.test:8080'], 'opt')).toEqual([
      'https://app.example.test',
      'http://b.test:8080',
    ]);
    expect(normaliseOrigins(undefined, 'opt')).toBeUndefined();
  });

  it('throws a TypeError naming the option for an entry that is not an http(s) origin', () => {
    for (const entry of ['null', 'not a url', 'ftp://a.test', 42]) {
      expect(() => normaliseOrigins([entry], 'my option')).toThrow(
        new TypeError(`my option entry ${JSON.stringify(entry)} is not an http(s) origin`),
      );
    }
  });
});
