import type { Snapshot } from './snapshot-file.js';
import { NO_SLOT, type SlotList, type SlotOwner } from './slot-list.js';

/**
 * A user's epoch, persisted fields and sessions. Its `id` is the key of the users map: every session of the user
 * reports that one string as its `userId`.
 */
export interface UserEntry extends SlotOwner, SlotList {
  epoch: number;
  /** Created on the first field: most users have none. */
  fields: Map<string, string> | undefined;
}

/**
 * The users of a MemoryStore. An entry lives while it holds something (an epoch past 0, a session, a persisted
 * field): a user who only ever logged in and out leaves nothing behind.
 */
export class MemoryUsers {
  private readonly entries = new Map<string, UserEntry>();

  /** The user's entry, if it holds anything. */
  find(userId: string): UserEntry | undefined {
    return this.entries.get(userId);
  }

  /** The user's entry, created empty if absent: call {@link forgetIfEmpty} once done with it. */
  entry(userId: string): UserEntry {
    let entry = this.entries.get(userId);
    if (entry === undefined) {
      entry = { id: userId, epoch: 0, head: NO_SLOT, tail: NO_SLOT, count: 0, fields: undefined };
      this.entries.set(userId, entry);
    }
    return entry;
  }

  forgetIfEmpty(entry: UserEntry): void {
    if (entry.epoch === 0 && entry.count === 0 && (entry.fields === undefined || entry.fields.size === 0)) {
      this.entries.delete(entry.id);
    }
  }

  epochOf(userId: string): number {
    return this.entries.get(userId)?.epoch ?? 0;
  }

  field(userId: string, field: string): string | undefined {
    return this.entries.get(userId)?.fields?.get(field);
  }

  /** Writes (or with undefined, removes) a persisted field. */
  setField(userId: string, field: string, value: string | undefined): void {
    if (value === undefined) {
      const entry = this.entries.get(userId);
      if (entry === undefined) return;
      entry.fields?.delete(field);
      this.forgetIfEmpty(entry);
    } else {
      const entry = this.entry(userId);
      (entry.fields ??= new Map()).set(field, value);
    }
  }

  values(): IterableIterator<UserEntry> {
    return this.entries.values();
  }

  /** Every user's epoch and fields, for the snapshot file. */
  saved(): Snapshot['users'] {
    return [...this.entries.values()].map((entry) => [entry.id, { epoch: entry.epoch, fields: [...(entry.fields ?? [])] }]);
  }

  /** Takes back the users of a snapshot file, skipping entries that are not well-formed (the file is untrusted). */
  restore(saved: Snapshot['users']): void {
    for (const item of saved) {
      if (!Array.isArray(item) || typeof item[0] !== 'string' || item[0] === '__proto__') continue;
      const [userId, fromFile] = item;
      if (!Number.isInteger(fromFile?.epoch) || !Array.isArray(fromFile.fields)) continue;
      const entry = this.entry(userId);
      entry.epoch = Math.max(entry.epoch, fromFile.epoch);
      for (const field of fromFile.fields) {
        if (Array.isArray(field) && typeof field[0] === 'string' && typeof field[1] === 'string') {
          (entry.fields ??= new Map()).set(field[0], field[1]);
        }
      }
    }
  }
}
