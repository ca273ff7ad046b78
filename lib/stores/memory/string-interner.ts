/**
 * Hands out one shared instance for equal strings, so that the many sessions opened from the same browser or address
 * hold one copy of its User-Agent or IP instead of one per session (a request's headers are always fresh strings).
 *
 * The table is bounded: when it is full it is cleared rather than frozen, so that values that appear later (a new
 * browser release) still get shared. Strings already handed out stay valid; at worst two copies of a value coexist.
 */
export class StringInterner {
  private readonly table = new Map<string, string>();

  /**
   * @param maxEntries how many distinct values the table holds before it starts afresh.
   * @param maxLength longer values are returned as given: the table must not pin large strings.
   */
  constructor(
    private readonly maxEntries = 10_000,
    private readonly maxLength = 256,
  ) {}

  /** How many distinct values the table holds now. */
  get size(): number {
    return this.table.size;
  }

  /** The shared instance equal to `value` (`value` itself the first time it is seen). */
  intern(value: string): string;
  intern(value: string | undefined): string | undefined;
  intern(value: string | undefined): string | undefined {
    if (value === undefined || value.length > this.maxLength) return value;
    const known = this.table.get(value);
    if (known !== undefined) return known;
    if (this.table.size >= this.maxEntries) this.table.clear();
    this.table.set(value, value);
    return value;
  }
}
