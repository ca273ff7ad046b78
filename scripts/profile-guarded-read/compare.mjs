// What the per-function listings of scripts/profile-guarded-read.mjs share: names made comparable across builds,
// totals, and the entries that differ most from a base variant's.
import { resolve } from 'node:path';

/**
 * `values` (function or symbol name -> amount) with the library's own directory in each name replaced by `lib/`, and
 * this directory by nothing: a function of `dist/` and the same one of `.build/x/` (a `connected@.build/x` variant)
 * then share a name, and the builds compare function by function.
 */
export function libraryNamed(values, libDir) {
  const library = `${resolve(libDir)}/`;
  const here = `${process.cwd()}/`;
  const named = new Map();
  for (const [name, value] of values) {
    const key = name.replace(library, 'lib/').replace(here, '').replace('file://', '');
    named.set(key, (named.get(key) ?? 0) + value);
  }
  return named;
}

/** The sum of the amounts. */
export function total(values) {
  let sum = 0;
  for (const value of values.values()) sum += value;
  return sum;
}

/** The `top` names whose amounts differ most from `base`'s (either way), with the difference. */
export function largestDifferences(values, base, top) {
  const names = new Set([...values.keys(), ...base.keys()]);
  return [...names]
    .map((name) => [name, (values.get(name) ?? 0) - (base.get(name) ?? 0)])
    .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]))
    .slice(0, top);
}
