import { KeyIndex, NO_ROW } from './key-index.js';
import type { Snapshot } from './snapshot-file.js';
import { NO_LIST, NO_SLOT, SlotLists } from './slot-list.js';

/** "No user": the owner of an anonymous session. */
export const NO_USER = NO_LIST;

const FIRST_ROWS = 64;

/** "The exact epoch is in {@link MemoryUsers.wideEpochs}": never an epoch of its own. */
const WIDE = -(2 ** 31);

/** Whether `epoch` is kept in the Int32 column as itself. */
function inline(epoch: number): boolean {
  return (epoch | 0) === epoch && epoch !== WIDE && !Object.is(epoch, -0);
}

/**
 * The users of a MemoryStore, each a row number: its id, its epoch, the list of its sessions (in {@link lists}) and,
 * for the few users that have them, persisted fields. Rows are columns rather than one object per user (about 70 B
 * each with its list), since a store with one session per user has as many users as sessions.
 *
 * A row lives while it holds something (an epoch past 0, a session, a persisted field): a user who only ever logged
 * in and out leaves nothing behind, and the row is handed out again.
 */
export class MemoryUsers {
  /** Grown by push only: setting a larger length at once would turn the array into a slow dictionary. */
  private readonly ids: Array<string | undefined> = [];
  /** User id -> row, over {@link ids}. */
  private readonly rows = new KeyIndex((row) => this.ids[row]);
  /** Four bytes a row: an epoch moves once per `disconnectAll`, so it fits an Int32 for as long as anyone will wait. */
  private epochs = new Int32Array(FIRST_ROWS);
  /**
   * Row -> epoch, for the epochs an Int32 cannot hold (a snapshot file's, or one bumped past 2^31 - 1): exact
   * whatever they are, and free while there are none.
   */
  private readonly wideEpochs = new Map<number, number>();
  /** Each user's sessions, oldest first: list number = row. */
  readonly lists = new SlotLists(FIRST_ROWS);
  /** Row -> persisted fields, for the users that have any. */
  private readonly fields = new Map<number, Map<string, string>>();
  private readonly freeRows: number[] = [];

  /** The user's row, or {@link NO_USER} if it holds nothing. */
  find(userId: string): number {
    const row = this.rows.get(userId);
    return row === NO_ROW ? NO_USER : row;
  }

  /** The user's row, made empty if absent: call {@link forgetIfEmpty} once done with it. */
  entry(userId: string): number {
    const known = this.rows.get(userId);
    if (known !== NO_ROW) return known;
    let row = this.freeRows.pop();
    if (row === undefined) {
      row = this.ids.length;
      if (row === this.lists.capacity) this.grow();
      this.ids.push(userId);
    } else {
      this.ids[row] = userId;
    }
    this.setEpoch(row, 0);
    this.lists.reset(row);
    this.rows.add(userId, row);
    return row;
  }

  /** The id of the user in `row`: the one string every session of the user reports as its `userId`. */
  idOf(row: number): string {
    return this.ids[row]!;
  }

  epoch(row: number): number {
    const epoch = this.epochs[row];
    return epoch === WIDE ? this.wideEpochs.get(row)! : epoch;
  }

  /** Moves the user in `row` to a new epoch and returns it. */
  bump(row: number): number {
    const epoch = this.epoch(row) + 1;
    this.setEpoch(row, epoch);
    return epoch;
  }

  forgetIfEmpty(row: number): void {
    if (this.epoch(row) === 0 && this.lists.head(row) === NO_SLOT && !this.fields.has(row)) {
      this.rows.remove(this.ids[row]!);
      this.ids[row] = undefined;
      this.freeRows.push(row);
    }
  }

  epochOf(userId: string): number {
    const row = this.rows.get(userId);
    return row === NO_ROW ? 0 : this.epoch(row);
  }

  field(userId: string, field: string): string | undefined {
    const row = this.rows.get(userId);
    return row === NO_ROW ? undefined : this.fields.get(row)?.get(field);
  }

  /** Writes (or with undefined, removes) a persisted field. */
  setField(userId: string, field: string, value: string | undefined): void {
    if (value === undefined) {
      const row = this.rows.get(userId);
      const fields = row === NO_ROW ? undefined : this.fields.get(row);
      if (fields === undefined) return;
      fields.delete(field);
      if (fields.size === 0) this.fields.delete(row);
      this.forgetIfEmpty(row);
    } else {
      this.fieldsOf(this.entry(userId)).set(field, value);
    }
  }

  /** Renumbers the head of every user's list after `SlotTable.compact`. */
  renumber(renumber: Int32Array): void {
    for (let row = 0; row < this.ids.length; row++) {
      if (this.ids[row] !== undefined) this.lists.renumber(row, renumber);
    }
  }

  /** Every user's epoch and fields, for the snapshot file. */
  saved(): Snapshot['users'] {
    const saved: Snapshot['users'] = [];
    this.ids.forEach((id, row) => {
      if (id !== undefined) saved.push([id, { epoch: this.epoch(row), fields: [...(this.fields.get(row) ?? [])] }]);
    });
    return saved;
  }

  /**
   * Takes back the users of a snapshot file, skipping entries that are not well-formed (the file is untrusted). Any
   * integer epoch is taken exactly, however large: refusing one would leave its user's sessions of that epoch alive
   * past a `disconnectAll`.
   */
  restore(saved: Snapshot['users']): void {
    for (const item of saved) {
      if (!Array.isArray(item) || typeof item[0] !== 'string' || item[0] === '__proto__') continue;
      const [userId, fromFile] = item;
      if (!Number.isInteger(fromFile?.epoch) || !Array.isArray(fromFile.fields)) continue;
      const row = this.entry(userId);
      this.setEpoch(row, Math.max(this.epoch(row), fromFile.epoch));
      for (const field of fromFile.fields) {
        if (Array.isArray(field) && typeof field[0] === 'string' && typeof field[1] === 'string') {
          this.fieldsOf(row).set(field[0], field[1]);
        }
      }
      this.forgetIfEmpty(row);
    }
  }

  private setEpoch(row: number, epoch: number): void {
    if (inline(epoch)) {
      if (this.epochs[row] === WIDE) this.wideEpochs.delete(row);
      this.epochs[row] = epoch;
    } else {
      this.wideEpochs.set(row, epoch);
      this.epochs[row] = WIDE;
    }
  }

  private fieldsOf(row: number): Map<string, string> {
    let fields = this.fields.get(row);
    if (fields === undefined) {
      fields = new Map();
      this.fields.set(row, fields);
    }
    return fields;
  }

  /** Room for an eighth more rows (as SlotTable grows): little left unused, for a cheap copy now and then. */
  private grow(): void {
    const capacity = this.lists.capacity + Math.max(FIRST_ROWS, this.lists.capacity >> 3);
    const epochs = new Int32Array(capacity);
    epochs.set(this.epochs);
    this.epochs = epochs;
    this.lists.grow(capacity);
  }
}
