import { ExpiryBuckets } from './expiry-buckets.js';
import type { SlotTable } from './slot-table.js';

const SECOND = 1000;

/**
 * When the sessions of a MemoryStore expire: buckets of one second each, swept once a second, so that expiry costs
 * what expires, not what is stored.
 *
 * Each live session has exactly one valid entry here: in the bucket of its slot's due second (kept in the table),
 * which is never later than its expiry. A touch that moves the expiry later adds nothing; the sweep moves the entry
 * when it finds the session not due yet. Entries of removed sessions stay until their second is swept.
 */
export class MemoryExpiry {
  private readonly buckets = new ExpiryBuckets();
  private sweptUpTo = Math.floor(Date.now() / SECOND);
  /**
   * True while a sweep walks a bucket of slot numbers: nothing may renumber the slots (compaction runs after it) or
   * drain the same bucket meanwhile.
   */
  private sweeping = false;
  private timer: NodeJS.Timeout | undefined;

  /**
   * @param expire removes the session in a slot that is due (and tells who listens); it may create or remove other
   *   sessions, which this schedule then sees.
   */
  constructor(
    private readonly table: SlotTable,
    private readonly expire: (slot: number) => void,
  ) {}

  /** Whether a sweep is under way (a listener called back into the store from it). */
  get isSweeping(): boolean {
    return this.sweeping;
  }

  /** Sweeps once a second until {@link stop} (again, after a stop). */
  start(sweep: () => void): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(sweep, SECOND);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Schedules a session just stored in `slot`. */
  added(slot: number): void {
    this.schedule(slot, this.dueSecondOf(slot));
  }

  /** After a touch of `slot`: only an earlier expiry needs an entry now; a later one is left to the sweep. */
  touched(slot: number): void {
    const due = this.dueSecondOf(slot);
    if (due < this.table.dueSecond(slot)) this.schedule(slot, due);
  }

  /** Expires everything due at `now`; returns how many sessions expired. Must not run during a sweep. */
  sweep(now: number): number {
    const until = Math.floor(now / SECOND);
    let expired = 0;
    this.sweeping = true;
    try {
      for (let second = this.sweptUpTo; second <= until; second++) {
        // Sessions created meanwhile (by a listener) already due go in this bucket, which is still being read.
        this.sweptUpTo = second;
        this.buckets.drain(second, (slot) => {
          // A stale entry: the session went, or moved to another bucket, perhaps with a new session in its slot.
          if (!this.table.isOccupied(slot) || this.table.dueSecond(slot) !== second) return false;
          const at = this.table.expiresAt(slot);
          if (at <= now) {
            this.expire(slot);
            expired++;
            return false;
          }
          const due = Math.floor(at / SECOND);
          // Due later within the second being swept (the current one): it stays for the next sweep.
          if (due === second) return true;
          // Touched since it was scheduled: on to the bucket of its new expiry.
          this.schedule(slot, due);
          return false;
        });
      }
    } finally {
      this.sweeping = false;
    }
    this.sweptUpTo = until;
    return expired;
  }

  /** After the table was compacted: the entries again, from the live slots' due seconds only (no stale ones). */
  rebuild(slots: Iterable<number>): void {
    this.buckets.clear();
    for (const slot of slots) this.buckets.add(this.table.dueSecond(slot), slot);
  }

  /** The bucket second for the session in `slot` now: its expiry second, or the next to be swept if that is past. */
  private dueSecondOf(slot: number): number {
    return Math.max(Math.floor(this.table.expiresAt(slot) / SECOND), this.sweptUpTo);
  }

  /** Gives `slot` its valid expiry entry; the one it had, if any, is stale from now on. */
  private schedule(slot: number, due: number): void {
    this.table.setDueSecond(slot, due);
    this.buckets.add(due, slot);
  }
}
