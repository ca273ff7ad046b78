import type { Logger } from '@nestjs/common';
import { describeError } from '../../util/describe-error.js';
import type { RedisFailureDetector } from './redis-failure-detector.js';
import { RedisKeys } from './redis-keys.js';
import type { RedisRemovals } from './redis-removals.js';

const SWEEP_INTERVAL_MS = 1_000;
/** Keys claimed from one expiry shard per round, and rounds per sweep: bounds one sweep's work. */
const SWEEP_BATCH = 100;
const SWEEP_ROUNDS = 10;

/**
 * Once a second, claims what is due from every expiry shard (a claim is atomic, so each due key goes to one server)
 * and takes it, so that each expired session is reported, with its record, by exactly one server, at a cost in
 * proportion to what expires. No request waits on it: its commands are background work, bounded by
 * `commandTimeoutMs`, and it skips its turn while the store fails fast.
 */
export class ExpirySweeper {
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;

  constructor(
    private readonly keys: RedisKeys,
    private readonly detector: RedisFailureDetector,
    private readonly removals: RedisRemovals,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep(), SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  /** No new sweep starts; one under way stops after its current round. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private get running(): boolean {
    return this.timer !== undefined;
  }

  private async sweep(): Promise<void> {
    if (this.sweeping || this.detector.isFailing || !this.running) return;
    this.sweeping = true;
    try {
      const now = Date.now();
      await Promise.all(Array.from({ length: RedisKeys.EXPIRY_SHARDS }, (_, shard) => this.sweepShard(shard, now)));
    } catch (error) {
      if (!this.detector.isFailing) this.logger.warn(`Expiry sweep: ${describeError(error)}`);
    } finally {
      this.sweeping = false;
    }
  }

  private async sweepShard(shard: number, now: number): Promise<void> {
    const limit = String(SWEEP_BATCH);
    const run = this.detector.runBackground;
    for (let round = 0; round < SWEEP_ROUNDS && this.running; round++) {
      const due = await run((c) => c.nestjsConnectedClaimDue(this.keys.expiryShard(shard), String(now), limit));
      await Promise.all(
        due.map((key) =>
          this.removals.expire(key, now, run).catch((error: unknown) => {
            // Claimed but not taken: Redis drops the hash at the end of its grace, unreported.
            this.logger.warn(`Expiring a session: ${describeError(error)}`);
          }),
        ),
      );
      if (due.length < SWEEP_BATCH) return;
    }
  }
}
