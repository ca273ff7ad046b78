/**
 * The interned copy of `text`, the one V8 keeps for property names. A property look-up by an interned string finds
 * its handler at once; by any other string (one sliced, concatenated or decoded at run time) V8 first searches its
 * string table for the interned copy, on every access. For names built once and used as keys on every request.
 */
export function interned(text: string): string {
  // Adding a named property interns its key, and Object.keys hands that key back.
  return Object.keys({ [text]: 0 })[0] ?? text;
}
