import { SessionKey } from '../stores/session-key.js';
import { FIELD_PREFIX, type SessionRecord } from '../stores/session-record.js';
import { interned } from '../util/interned.js';

/** A persisted value leaving with its record, still serialized, for its key's `onDelete`. */
export interface PersistedValue {
  readonly key: SessionKey<unknown>;
  readonly text: string;
}

/** The persisted values of a record whose keys have an `onDelete`; browser ones left out when they move on. */
export function persistedValues(record: SessionRecord, skipBrowser: boolean): PersistedValue[] {
  const values: PersistedValue[] = [];
  for (const [field, text] of Object.entries(record.data)) {
    if (skipBrowser && field.startsWith(FIELD_PREFIX.browser)) continue;
    const key = SessionKey.named(field.slice(2));
    if (key?.onDelete !== undefined && key.codec !== undefined) values.push({ key, text });
  }
  return values;
}

/** The browser-scoped fields of a record: what survives connect, disconnect and (by choice) disconnectAll. */
export function browserFields(record: SessionRecord): Record<string, string> {
  const data: Record<string, string> = {};
  for (const [field, value] of Object.entries(record.data)) {
    if (field.startsWith(FIELD_PREFIX.browser)) data[field] = value;
  }
  return data;
}

/** Each key's record field, built and interned once: it is looked up in a record's data on every read. */
const fields = new WeakMap<SessionKey<unknown>, string>();

/** The record field of a persisted session- or browser-scoped key. */
export function fieldOf(key: SessionKey<unknown>): string {
  let field = fields.get(key);
  if (field === undefined) {
    field = interned((key.scope === 'browser' ? FIELD_PREFIX.browser : FIELD_PREFIX.session) + key.name);
    fields.set(key, field);
  }
  return field;
}

/** The `actorId` of an event about this session: present only on an impersonated one. */
export function actorOf(record: SessionRecord | undefined): { actorId?: string } {
  return record?.actorId === undefined ? {} : { actorId: record.actorId };
}
