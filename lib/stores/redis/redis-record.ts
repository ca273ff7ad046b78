import { decodeSessionRecord, type SessionRecord } from '../session-record.js';

/** Hash field prefix of a record's data fields: `d:s:cart` holds `data['s:cart']`. */
export const DATA_FIELD = 'd:';

const NUMBERS = ['epoch', 'createdAt', 'lastSeenAt', 'idleExpiresAt', 'absoluteExpiresAt'] as const;
/** Numbers a record may lack (written before the field existed, or not applying to it). */
const OPTIONAL_NUMBERS = ['authenticatedAt', 'actorEpoch'] as const;
const STRINGS = ['userId', 'ip', 'userAgent', 'actorId'] as const;
/** Booleans that are true when present, as `1`. */
const FLAGS = ['browserSessionCookie'] as const;
const META = new Set<string>([...NUMBERS, ...OPTIONAL_NUMBERS, ...STRINGS, ...FLAGS]);

/** A session record as the flat field/value list HSET takes. */
export function encodeRecord(record: SessionRecord): string[] {
  const fields: string[] = [];
  for (const name of NUMBERS) fields.push(name, String(record[name]));
  for (const name of OPTIONAL_NUMBERS) {
    const value = record[name];
    if (value !== undefined) fields.push(name, String(value));
  }
  for (const name of FLAGS) if (record[name] === true) fields.push(name, '1');
  for (const name of STRINGS) {
    const value = record[name];
    if (value !== undefined) fields.push(name, value);
  }
  for (const [name, value] of Object.entries(record.data)) fields.push(DATA_FIELD + name, value);
  return fields;
}

/** A number written by `String(n)`; anything else (blank, `1e3`, ` 1`, `0x10`, `Infinity`) is not one. */
function parseNumber(text: string): number | undefined {
  if (!/^(0|[1-9][0-9]{0,19})(\.[0-9]{1,20})?$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

/**
 * The record in an HGETALL reply (a flat `[field, value, ...]` list), or undefined when it is not exactly a record
 * this store wrote: unknown or duplicated fields, non-canonical numbers, and everything `decodeSessionRecord`
 * refuses (`__proto__` names, missing fields, data outside the `s:`/`b:` scopes).
 */
export function decodeRecordHash(reply: unknown): SessionRecord | undefined {
  if (!Array.isArray(reply) || reply.length === 0 || reply.length % 2 !== 0) return undefined;
  // Null-prototype maps: a field named `__proto__` or `constructor` is an own entry, never the prototype.
  const meta = Object.create(null) as Record<string, string>;
  const data = Object.create(null) as Record<string, string>;
  for (let i = 0; i < reply.length; i += 2) {
    const name: unknown = reply[i];
    const value: unknown = reply[i + 1];
    if (typeof name !== 'string' || typeof value !== 'string') return undefined;
    const target = name.startsWith(DATA_FIELD) ? data : META.has(name) ? meta : undefined;
    const field = target === data ? name.slice(DATA_FIELD.length) : name;
    if (target === undefined || Object.prototype.hasOwnProperty.call(target, field)) return undefined;
    target[field] = value;
  }
  const candidate: Record<string, unknown> = { data };
  for (const name of NUMBERS) {
    const text = meta[name];
    if (text === undefined) return undefined;
    const value = parseNumber(text);
    if (value === undefined) return undefined;
    candidate[name] = value;
  }
  for (const name of OPTIONAL_NUMBERS) {
    const text = meta[name];
    if (text === undefined) continue;
    const value = parseNumber(text);
    if (value === undefined) return undefined;
    candidate[name] = value;
  }
  for (const name of FLAGS) {
    if (meta[name] === undefined) continue;
    if (meta[name] !== '1') return undefined;
    candidate[name] = true;
  }
  for (const name of STRINGS) if (meta[name] !== undefined) candidate[name] = meta[name];
  return decodeSessionRecord(candidate);
}

/** A user's epoch as stored (HGET, null when absent, hence 0); undefined when the stored value is not one. */
export function parseEpoch(stored: unknown): number | undefined {
  if (stored === null || stored === undefined) return 0;
  if (typeof stored === 'number') return Number.isSafeInteger(stored) && stored >= 0 ? stored : undefined;
  if (typeof stored !== 'string' || !/^(0|[1-9][0-9]{0,15})$/.test(stored)) return undefined;
  const epoch = Number(stored);
  return Number.isSafeInteger(epoch) ? epoch : undefined;
}

/** The strings of a list in a script's reply (the keys it names); none when it is not a list. */
export function stringsIn(list: unknown): string[] {
  return Array.isArray(list) ? list.filter((item): item is string => typeof item === 'string') : [];
}
