import { hasFields, setOwn } from './record-data.js';
import { StringInterner } from './string-interner.js';

/**
 * The data fields of a SlotTable's sessions, one column pair per slot. Most sessions hold no field or exactly one
 * (a cart, a counter, a CSRF secret): one field is kept as its name (shared by every session that has it) and its
 * value, with no object; two or more as a plain object, as before. An object of one field costs about 56 bytes a
 * session; the name column costs 8 bytes a session, field or not.
 */
export class SlotFields {
  /** The name of a slot's only field; undefined when it has none or several (then `values` holds an object). */
  private names: Array<string | undefined> = [];
  private values: Array<string | Record<string, string> | undefined> = [];
  /** Field names are built per call (`'s:' + key.name`): without sharing, each one-field session would keep a copy. */
  private readonly interner = new StringInterner(1000, 128);

  /** Stores a copy of `data`'s own fields for `slot`, which is the next new slot (`slot === length`) or a reused one. */
  put(slot: number, data: Readonly<Record<string, string>>): void {
    let name: string | undefined;
    let value: string | Record<string, string> | undefined;
    for (const field in data) {
      if (!Object.hasOwn(data, field)) continue;
      if (value === undefined) {
        name = this.interner.intern(field);
        value = data[field];
      } else {
        if (typeof value === 'string') value = single(name!, value);
        name = undefined;
        setOwn(value, field, data[field]);
      }
    }
    if (slot === this.values.length) {
      // Grown by push only: setting a larger length at once would turn the array into a slow dictionary.
      this.names.push(name);
      this.values.push(value);
    } else {
      this.names[slot] = name;
      this.values[slot] = value;
    }
  }

  /** Drops a freed slot's fields. */
  clear(slot: number): void {
    this.names[slot] = undefined;
    this.values[slot] = undefined;
  }

  /** Writes one field of `slot`. */
  set(slot: number, field: string, text: string): void {
    const name = this.names[slot];
    const value = this.values[slot];
    if (value === undefined) {
      this.names[slot] = this.interner.intern(field);
      this.values[slot] = text;
    } else if (typeof value === 'object') {
      setOwn(value, field, text);
    } else if (name === field) {
      this.values[slot] = text;
    } else {
      const data = single(name!, value);
      setOwn(data, field, text);
      this.names[slot] = undefined;
      this.values[slot] = data;
    }
  }

  /** Removes one field of `slot`, if it has it. An object left with one field stays one: it goes with the session. */
  delete(slot: number, field: string): void {
    const value = this.values[slot];
    if (typeof value === 'string') {
      if (this.names[slot] === field) this.clear(slot);
    } else if (value !== undefined && Object.hasOwn(value, field)) {
      delete value[field];
      if (!hasFields(value)) this.values[slot] = undefined;
    }
  }

  /** A new object with `slot`'s fields: what the caller does to it never reaches the table. */
  copy(slot: number): Record<string, string> {
    const value = this.values[slot];
    if (value === undefined) return {};
    if (typeof value === 'object') return { ...value };
    return single(this.names[slot]!, value);
  }

  /** Keeps the slots `renumber` maps to a new number, in that order (see SlotTable.compact). */
  compact(renumber: Int32Array): void {
    const names: Array<string | undefined> = [];
    const values: Array<string | Record<string, string> | undefined> = [];
    for (let slot = 0; slot < renumber.length; slot++) {
      if (renumber[slot] < 0) continue;
      names.push(this.names[slot]);
      values.push(this.values[slot]);
    }
    this.names = names;
    this.values = values;
  }
}

function single(name: string, value: string): Record<string, string> {
  const data: Record<string, string> = {};
  setOwn(data, name, value);
  return data;
}
