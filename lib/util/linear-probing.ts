/**
 * Empties place `hole` of an open-addressing table with linear probing (a power-of-two `table`, `mask` its length
 * less one) and moves back each entry of the run after it whose home is not between the hole and itself
 * (cyclically), so that no removed place is left behind (no tombstones) and every entry stays reachable from its
 * home. `homeOf` gives an entry's home place; `empty` is what an empty place holds.
 */
export function removeAndShiftBack(table: Int32Array, mask: number, hole: number, empty: number, homeOf: (entry: number) => number): void {
  table[hole] = empty;
  for (let at = (hole + 1) & mask; table[at] !== empty; at = (at + 1) & mask) {
    const home = homeOf(table[at]);
    if (((at - home) & mask) >= ((at - hole) & mask)) {
      table[hole] = table[at];
      table[at] = empty;
      hole = at;
    }
  }
}
