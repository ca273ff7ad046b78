import { FieldNames } from '../../../lib/stores/memory/field-names.js';
import { SlotFields } from '../../../lib/stores/memory/slot-fields.js';

/** A SlotFields with `data` put in slot 0. */
function holding(data: Record<string, string>): SlotFields {
  const fields = new SlotFields();
  fields.put(0, data);
  return fields;
}

describe('SlotFields', () => {
  it('gives back no field, one field or several, as put', () => {
    const fields = new SlotFields();
    fields.put(0, {});
    fields.put(1, { 's:cart': '[1]' });
    fields.put(2, { 's:cart': '[1]', 'b:theme': '"dark"', 's:n': '3' });
    expect(fields.copy(0)).toEqual({});
    expect(fields.copy(1)).toEqual({ 's:cart': '[1]' });
    expect(fields.copy(2)).toEqual({ 's:cart': '[1]', 'b:theme': '"dark"', 's:n': '3' });
  });

  it('keeps a copy of what was put, and hands out a new object on every read', () => {
    const given = { 's:a': '1', 's:b': '2' };
    const fields = holding(given);
    given['s:a'] = 'changed';
    const first = fields.copy(0);
    first['s:c'] = '3';
    expect(fields.copy(0)).toEqual({ 's:a': '1', 's:b': '2' });
    expect(fields.copy(0)).not.toBe(fields.copy(0));
    const one = holding({ 's:a': '1' });
    one.copy(0)['s:a'] = 'changed';
    expect(one.copy(0)).toEqual({ 's:a': '1' });
  });

  it('leaves out inherited properties', () => {
    const data = Object.create({ 's:inherited': 'x' }) as Record<string, string>;
    data['s:own'] = '1';
    expect(holding(data).copy(0)).toEqual({ 's:own': '1' });
  });

  it('writes a first field, replaces it, and adds a second one beside it', () => {
    const fields = holding({});
    fields.set(0, 's:a', '1');
    expect(fields.copy(0)).toEqual({ 's:a': '1' });
    fields.set(0, 's:a', '2');
    expect(fields.copy(0)).toEqual({ 's:a': '2' });
    fields.set(0, 's:b', '3');
    expect(fields.copy(0)).toEqual({ 's:a': '2', 's:b': '3' });
    fields.set(0, 's:c', '');
    expect(fields.copy(0)).toEqual({ 's:a': '2', 's:b': '3', 's:c': '' });
  });

  it('removes a sole field, one of several, and ignores an absent one', () => {
    const one = holding({ 's:a': '1' });
    one.delete(0, 's:other');
    expect(one.copy(0)).toEqual({ 's:a': '1' });
    one.delete(0, 's:a');
    expect(one.copy(0)).toEqual({});
    one.set(0, 's:b', '2');
    expect(one.copy(0)).toEqual({ 's:b': '2' });

    const several = holding({ 's:a': '1', 's:b': '2' });
    several.delete(0, 's:a');
    expect(several.copy(0)).toEqual({ 's:b': '2' });
    several.delete(0, 's:b');
    expect(several.copy(0)).toEqual({});
    several.delete(0, 's:b');
    several.set(0, 's:c', '3');
    expect(several.copy(0)).toEqual({ 's:c': '3' });
  });

  it('keeps a field named __proto__ as a field, alone and beside others', () => {
    const alone = holding({});
    alone.set(0, '__proto__', '"x"');
    const read = alone.copy(0);
    expect(Object.getPrototypeOf(read)).toBe(Object.prototype);
    expect(Object.hasOwn(read, '__proto__')).toBe(true);
    alone.set(0, 's:a', '1');
    const both = alone.copy(0);
    expect(Object.getPrototypeOf(both)).toBe(Object.prototype);
    expect(Object.keys(both).sort()).toEqual(['__proto__', 's:a']);
  });

  it('starts a reused slot clean and drops a cleared one', () => {
    const fields = holding({ 's:a': '1', 's:b': '2' });
    fields.put(1, { 's:c': '3' });
    fields.clear(0);
    expect(fields.copy(0)).toEqual({});
    fields.put(0, { 'b:d': '4' });
    expect(fields.copy(0)).toEqual({ 'b:d': '4' });
    expect(fields.copy(1)).toEqual({ 's:c': '3' });
  });

  it('keeps the renumbered slots in order on compaction', () => {
    const fields = new SlotFields();
    fields.put(0, { 's:a': '0' });
    fields.put(1, { 's:a': '1', 's:b': '1' });
    fields.put(2, {});
    fields.put(3, { 's:a': '3' });
    fields.compact(Int32Array.from([-1, 0, -1, 1]));
    expect(fields.copy(0)).toEqual({ 's:a': '1', 's:b': '1' });
    expect(fields.copy(1)).toEqual({ 's:a': '3' });
    fields.put(2, { 's:x': 'new' });
    expect(fields.copy(2)).toEqual({ 's:x': 'new' });
  });

  it('goes from one field to two and back to one and none, by slot', () => {
    const fields = new SlotFields();
    fields.put(0, { 's:a': '1' });
    fields.put(1, { 's:a': '1' });
    fields.set(0, 'b:b', '2');
    fields.delete(0, 's:a');
    expect(fields.copy(0)).toEqual({ 'b:b': '2' });
    expect(fields.copy(1)).toEqual({ 's:a': '1' });
    fields.delete(0, 'b:b');
    fields.delete(1, 's:a');
    expect([fields.copy(0), fields.copy(1)]).toEqual([{}, {}]);
    fields.set(1, 'b:b', '3');
    expect(fields.copy(1)).toEqual({ 'b:b': '3' });
  });

  it('keeps a field whose name the full table has no number for, alone or beside others', () => {
    const fields = new SlotFields(new FieldNames(1));
    fields.put(0, { 's:a': '0' });
    fields.put(1, { 's:b': '1' });
    fields.put(2, {});
    fields.set(2, 's:c', '2');
    fields.put(3, { 's:a': '3' });
    expect([0, 1, 2, 3].map((slot) => fields.copy(slot))).toEqual([{ 's:a': '0' }, { 's:b': '1' }, { 's:c': '2' }, { 's:a': '3' }]);
    fields.set(1, 's:b', 'again');
    fields.set(1, 's:a', 'beside');
    expect(fields.copy(1)).toEqual({ 's:b': 'again', 's:a': 'beside' });
    fields.delete(2, 's:c');
    expect(fields.copy(2)).toEqual({});
    fields.set(2, '__proto__', '"x"');
    expect(Object.hasOwn(fields.copy(2), '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(fields.copy(2))).toBe(Object.prototype);
  });

  it('keeps a field of a name too long for the table', () => {
    const long = 's:' + 'x'.repeat(300);
    const fields = new SlotFields();
    fields.put(0, { [long]: '1' });
    fields.put(1, {});
    fields.set(1, long, '2');
    expect([fields.copy(0), fields.copy(1)]).toEqual([{ [long]: '1' }, { [long]: '2' }]);
  });

  it('grows past its first capacity, keeps every slot through a compaction, and grows again after it', () => {
    const fields = new SlotFields();
    const expected = (slot: number): Record<string, string> => (slot % 5 === 4 ? {} : { [`s:n${slot % 3}`]: String(slot) });
    for (let slot = 0; slot < 500; slot++) fields.put(slot, expected(slot));
    for (let slot = 0; slot < 500; slot++) expect(fields.copy(slot)).toEqual(expected(slot));

    const renumber = new Int32Array(500).fill(-1);
    const kept: number[] = [];
    for (let slot = 0; slot < 500; slot += 2) renumber[slot] = kept.push(slot) - 1;
    fields.compact(renumber);
    kept.forEach((old, slot) => expect(fields.copy(slot)).toEqual(expected(old)));
    for (let slot = kept.length; slot < 1000; slot++) fields.put(slot, { 's:late': String(slot) });
    expect(fields.copy(999)).toEqual({ 's:late': '999' });
    expect(fields.copy(kept.length - 1)).toEqual(expected(kept[kept.length - 1]));
  });

  it('starts a reused slot that held one field clean', () => {
    const fields = holding({ 's:a': '1' });
    fields.clear(0);
    fields.put(0, {});
    expect(fields.copy(0)).toEqual({});
    fields.clear(0);
    fields.put(0, { 's:b': '2', 's:c': '3' });
    expect(fields.copy(0)).toEqual({ 's:b': '2', 's:c': '3' });
  });
});
