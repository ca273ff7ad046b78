// The data fields of a MemoryStore session: plain objects, kept only while a session has a field.

/** Whether `data` has an own field. */
export function hasFields(data: Record<string, string>): boolean {
  for (const name in data) {
    if (Object.hasOwn(data, name)) return true;
  }
  return false;
}

/** `target[name] = value`, except that a field named `__proto__` becomes a field rather than a prototype change. */
export function setOwn(target: Record<string, string>, name: string, value: string): void {
  if (name === '__proto__') Object.defineProperty(target, name, { value, writable: true, enumerable: true, configurable: true });
  else target[name] = value;
}
