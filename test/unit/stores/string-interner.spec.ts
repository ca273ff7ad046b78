import { StringInterner } from '../../../lib/stores/memory/string-interner.js';

// String identity cannot be observed from JavaScript: these tests check the values handed out and the table's bounds.
describe('StringInterner', () => {
  /** A separate string equal to `text`, as a new request's header would be. */
  const copy = (text: string) => text.split('').join('');

  it('gives back values equal to what it was given', () => {
    const interner = new StringInterner();
    const agent = 'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0';
    expect(interner.intern(copy(agent))).toBe(agent);
    expect(interner.intern(copy(agent))).toBe(agent);
    expect(interner.intern('other')).toBe('other');
    expect(interner.size).toBe(2);
  });

  it('passes undefined through', () => {
    expect(new StringInterner().intern(undefined)).toBeUndefined();
  });

  it('keeps one entry per distinct value', () => {
    const interner = new StringInterner();
    for (let i = 0; i < 100; i++) interner.intern(copy(`agent-${i % 10}`));
    expect(interner.size).toBe(10);
  });

  it('starts afresh when full, and still answers every value', () => {
    const interner = new StringInterner(3);
    for (const value of ['a', 'b', 'c']) interner.intern(value);
    expect(interner.size).toBe(3);
    expect(interner.intern('d')).toBe('d');
    expect(interner.size).toBe(1);
    expect(interner.intern(copy('a'))).toBe('a');
    expect(interner.size).toBe(2);
  });

  it('does not hold values longer than its bound', () => {
    const interner = new StringInterner(10, 8);
    expect(interner.intern('x'.repeat(9))).toBe('x'.repeat(9));
    expect(interner.size).toBe(0);
    interner.intern('x'.repeat(8));
    expect(interner.size).toBe(1);
  });
});
