import { interned } from '../../util/interned.js';

/** The number {@link FieldNames} gives no name: "no single field". */
export const NO_FIELD = 0;

/** The most names a table may hold: their numbers must fit the Uint16Array that SlotFields keeps them in. */
const MAX_NUMBER = 0xffff;

/**
 * Numbers the data field names of a MemoryStore's sessions, so that a session's only field is kept as two bytes
 * rather than a reference. Field names are few (an application's persisted SessionKey names with a scope prefix),
 * but the store's `setField` and a snapshot file accept any name: the table is bounded, and once it is full a name
 * gets no number ({@link NO_FIELD}) and the caller keeps its field another way.
 *
 * A number, once given, means its name for the table's lifetime: nothing is ever removed, so a number held by a
 * slot can never come to mean another name.
 */
export class FieldNames {
  private readonly numbers = new Map<string, number>();
  /** By number; 0 is {@link NO_FIELD} and names nothing. */
  private readonly names: string[] = [''];

  /**
   * @param maxNames how many names get a number; at most 65535.
   * @param maxLength longer names get none: the table must not pin large strings for good.
   */
  constructor(
    private readonly maxNames = 1024,
    private readonly maxLength = 256,
  ) {
    if (!Number.isInteger(maxNames) || maxNames < 0 || maxNames > MAX_NUMBER) {
      throw new Error(`FieldNames: maxNames must be an integer from 0 to ${MAX_NUMBER}`);
    }
  }

  /** How many names have a number. */
  get size(): number {
    return this.numbers.size;
  }

  /** The number of `name`, given now if it has none yet; {@link NO_FIELD} when the table is full or `name` too long. */
  numberOf(name: string): number {
    const known = this.numbers.get(name);
    if (known !== undefined) return known;
    if (this.numbers.size >= this.maxNames || name.length > this.maxLength) return NO_FIELD;
    const number = this.names.length;
    // Interned: the name comes back as the key of every record built from this table.
    this.names.push(interned(name));
    this.numbers.set(name, number);
    return number;
  }

  /** The name of a number {@link numberOf} gave. */
  nameOf(number: number): string {
    return this.names[number];
  }
}
