import { interned } from '../../../lib/util/interned.js';

describe('interned', () => {
  it.each([['s:counter'], ['b:' + 'cart'.toUpperCase()], ['__proto__'], ['constructor'], ['0'], ['4294967295'], ['']])(
    'gives back a string equal to %j',
    (text) => {
      expect(interned(text)).toBe(text);
    },
  );
});
