import { FieldNames, NO_FIELD } from '../../../lib/stores/memory/field-names.js';

describe('FieldNames', () => {
  it('gives each name one number, other than NO_FIELD, and the name back for it', () => {
    const names = new FieldNames();
    const cart = names.numberOf('s:cart');
    const theme = names.numberOf('b:theme');
    expect(cart).not.toBe(NO_FIELD);
    expect(theme).not.toBe(NO_FIELD);
    expect(theme).not.toBe(cart);
    expect(names.numberOf('s:' + 'cart')).toBe(cart);
    expect([names.nameOf(cart), names.nameOf(theme)]).toEqual(['s:cart', 'b:theme']);
    expect(names.size).toBe(2);
  });

  it('gives no number once full, and keeps those it gave', () => {
    const names = new FieldNames(2);
    const a = names.numberOf('s:a');
    const b = names.numberOf('s:b');
    expect(names.numberOf('s:c')).toBe(NO_FIELD);
    expect(names.numberOf('s:c')).toBe(NO_FIELD);
    expect([names.numberOf('s:a'), names.numberOf('s:b')]).toEqual([a, b]);
    expect([names.nameOf(a), names.nameOf(b)]).toEqual(['s:a', 's:b']);
    expect(names.size).toBe(2);
  });

  it('gives no number to a name longer than its bound', () => {
    const names = new FieldNames(10, 4);
    expect(names.numberOf('s:abc')).toBe(NO_FIELD);
    expect(names.numberOf('s:ab')).not.toBe(NO_FIELD);
    expect(names.size).toBe(1);
  });

  it('refuses a bound its numbers would not fit', () => {
    expect(() => new FieldNames(65_536)).toThrow(/maxNames/);
    expect(() => new FieldNames(-1)).toThrow(/maxNames/);
    expect(() => new FieldNames(65_535)).not.toThrow();
  });
});
