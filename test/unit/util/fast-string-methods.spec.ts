import { setFlagsFromString } from 'node:v8';
// Loads ioredis, whose RESP3 decoder declares `class VerbatimString extends String`.
import { RedisStore } from '../../../lib/stores/redis/redis.store.js';
import { keepStringMethodsFast } from '../../../lib/util/fast-string-methods.js';

// V8's own answer, not a timing: whether optimized code can inline the loads of string methods. Its natives syntax
// is not TypeScript, hence source text.
setFlagsFromString('--allow-natives-syntax');
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const hasFastProperties = new Function('object', 'return %HasFastProperties(object)') as (object: object) => boolean;

describe('keepStringMethodsFast', () => {
  it('a RedisStore puts String.prototype back in fast mode, where loading ioredis left it a dictionary', async () => {
    expect(hasFastProperties(String.prototype)).toBe(false);
    const store = new RedisStore({ url: 'redis://127.0.0.1:1', prefix: 'never-connected:' });
    expect(hasFastProperties(String.prototype)).toBe(true);
    await store.close();
  });

  it('keeps it fast when another object takes String.prototype as its prototype afterwards', () => {
    keepStringMethodsFast();
    class Verbatim extends String {}
    const tagged = Object.create(String.prototype) as object;
    expect(new Verbatim('text').slice(1)).toBe('ext');
    expect(Object.getPrototypeOf(tagged)).toBe(String.prototype);
    expect(hasFastProperties(String.prototype)).toBe(true);
  });
});
