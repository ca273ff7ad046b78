import { FieldNames, NO_FIELD } from './field-names.js';
import { hasFields, setOwn } from './record-data.js';

const INITIAL_CAPACITY = 64;

/**
 * The data fields of a SlotTable's sessions, one column pair per slot. Most sessions hold no field or exactly one
 * (a cart, a counter, a CSRF secret): one field is kept as its name's number (see {@link FieldNames}) and its value,
 * with no object; two or more as a plain object. An object of one field costs about 56 bytes a session; the number
 * column costs 2 bytes a session, field or not. A name the {@link FieldNames} table has no room for is kept in an
 * object too, even alone: nothing is lost, only the saving.
 */
export class SlotFields {
  /** The number of a slot's only field; {@link NO_FIELD} when it has none or `values` holds an object. */
  private names = new Uint16Array(INITIAL_CAPACITY);
  // Grown by push only: setting a larger length at once would turn the array into a slow dictionary.
  private values: Array<string | Record<string, string> | undefined> = [];

  /** @param fieldNames numbers the names of one-field sessions (a table of its own per store, bounded). */
  constructor(private readonly fieldNames = new FieldNames()) {}

  /** Stores a copy of `data`'s own fields for `slot`, which is the next new slot (`slot === length`) or a reused one. */
  put(slot: number, data: Readonly<Record<string, string>>): void {
    let number = NO_FIELD;
    let value: string | Record<string, string> | undefined;
    for (const field in data) {
      if (!Object.hasOwn(data, field)) continue;
      if (value === undefined) {
        number = this.fieldNames.numberOf(field);
        value = number === NO_FIELD ? single(field, data[field]) : data[field];
      } else {
        if (typeof value === 'string') value = single(this.fieldNames.nameOf(number), value);
        number = NO_FIELD;
        setOwn(value, field, data[field]);
      }
    }
    if (slot === this.values.length) {
      if (slot === this.names.length) this.grow();
      this.values.push(value);
    } else {
      this.values[slot] = value;
    }
    this.names[slot] = number;
  }

  /** Drops a freed slot's fields. */
  clear(slot: number): void {
    this.names[slot] = NO_FIELD;
    this.values[slot] = undefined;
  }

  /** Writes one field of `slot`. */
  set(slot: number, field: string, text: string): void {
    const value = this.values[slot];
    if (value === undefined) {
      const number = this.fieldNames.numberOf(field);
      this.names[slot] = number;
      this.values[slot] = number === NO_FIELD ? single(field, text) : text;
    } else if (typeof value === 'object') {
      setOwn(value, field, text);
    } else {
      const name = this.fieldNames.nameOf(this.names[slot]);
      if (name === field) {
        this.values[slot] = text;
      } else {
        const data = single(name, value);
        setOwn(data, field, text);
        this.names[slot] = NO_FIELD;
        this.values[slot] = data;
      }
    }
  }

  /** Removes one field of `slot`, if it has it. An object left with one field stays one: it goes with the session. */
  delete(slot: number, field: string): void {
    const value = this.values[slot];
    if (typeof value === 'string') {
      if (this.fieldNames.nameOf(this.names[slot]) === field) this.clear(slot);
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
    return single(this.fieldNames.nameOf(this.names[slot]), value);
  }

  /** Keeps the slots `renumber` maps to a new number, in that order (see SlotTable.compact). */
  compact(renumber: Int32Array): void {
    let count = 0;
    for (let slot = 0; slot < renumber.length; slot++) if (renumber[slot] >= 0) count++;
    const names = new Uint16Array(Math.max(INITIAL_CAPACITY, count + (count >> 1)));
    const values: Array<string | Record<string, string> | undefined> = [];
    for (let slot = 0; slot < renumber.length; slot++) {
      if (renumber[slot] < 0) continue;
      names[values.length] = this.names[slot];
      values.push(this.values[slot]);
    }
    this.names = names;
    this.values = values;
  }

  /** Grows the number column by an eighth, as the SlotTable grows its own typed columns. */
  private grow(): void {
    const names = new Uint16Array(this.names.length + Math.max(1, this.names.length >> 3));
    names.set(this.names);
    this.names = names;
  }
}

function single(name: string, value: string): Record<string, string> {
  const data: Record<string, string> = {};
  setOwn(data, name, value);
  return data;
}
