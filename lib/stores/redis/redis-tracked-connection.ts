import type { Logger } from '@nestjs/common';
import type { Redis, RedisOptions } from 'ioredis';
import { describeError } from '../../util/describe-error.js';
import { isReplyError } from './redis-client.js';
import type { RedisFailureDetector } from './redis-failure-detector.js';
import type { NearCache } from './redis-near-cache.js';

/** The channel Redis sends a RESP2 redirect target its invalidation messages on. */
const INVALIDATE = '__redis__:invalidate';
/** How often the target connection is asked for a PONG. */
const HEARTBEAT_MS = 200;
/**
 * Past this long without a PONG, the invalidation path is taken as down: a hung Redis keeps its sockets open, and
 * only the lease bounds how long copies are served while it hangs.
 */
const LEASE_MS = 600;

const retryStrategy = (attempts: number) => Math.min(attempts * 100, 1000);

/**
 * Server-assisted client-side caching on one data connection (a standalone client, or one Cluster master's):
 * `CLIENT TRACKING ON REDIRECT <id>` on it, the invalidations read on a target connection of its own to the same
 * server (RESP2, so that they arrive as messages on `__redis__:invalidate`, which ioredis hands over; it drops RESP3
 * invalidation pushes).
 *
 * Trusted ({@link trusted}) only while tracking is confirmed on the current data connection towards the current
 * target, and that target answered a PING within the lease (0.6 s, a PING every 0.2 s). Any close of either
 * connection, a lapsed PING, or a flush message flushes the cache, so that no copy made before an outage of the
 * invalidation path is ever used after it.
 */
export class TrackedConnection {
  private target: Redis | undefined;
  /** The target's client id while it is subscribed to the invalidation channel. */
  private targetId: number | undefined;
  /** Tracking confirmed on the data connection, towards `targetId`, since the last close of either connection. */
  private tracked = false;
  /** A PONG came within the lease. */
  private alive = false;
  private lastPong = 0;
  /** Bumped by every close and every new attempt, so that a late confirmation of an older one is ignored. */
  private attempt = 0;
  private tracking: Promise<void> | undefined;
  private trackPending = false;
  private pinging = false;
  private timer: NodeJS.Timeout | undefined;
  private warned = false;
  private readonly dataListeners: Array<[string, () => void]> = [];

  constructor(
    private readonly client: Redis,
    private readonly cache: NearCache,
    private readonly detector: RedisFailureDetector,
    private readonly logger: Logger,
  ) {}

  /** Whether a cached copy may be served now. */
  get trusted(): boolean {
    return this.tracked && this.alive;
  }

  /** Creates the target connection (not connected yet) and follows both connections' state. */
  attach(): void {
    const options: Partial<RedisOptions> = {
      lazyConnect: true,
      enableOfflineQueue: false,
      autoResubscribe: false,
      retryStrategy,
      protocol: 2,
      // Whatever the data connection uses: this one only subscribes and PINGs, in subscriber mode.
      enableAutoPipelining: false,
    };
    const target = this.client.duplicate(options);
    this.target = target;
    target.on('messageBuffer', (channel: Buffer, keys: unknown) => {
      if (target === this.target && channel.toString() === INVALIDATE) this.onInvalidate(keys);
    });
    target.on('ready', () => {
      this.tracking = this.subscribe(target).catch((error: unknown) => this.failed(error));
    });
    for (const event of ['close', 'end', 'reconnecting']) {
      target.on(event, () => {
        if (target === this.target) this.targetLost();
      });
    }
    // Not logged: an outage of Redis is logged once by the data and subscriber connections, and what this one's
    // loss means (copies bypassed until tracking is back) needs no line of its own.
    target.on('error', () => undefined);
    const ready = () => void this.track().catch((error: unknown) => this.failed(error));
    const lost = () => this.lost();
    this.dataListeners.push(['ready', ready], ['close', lost], ['end', lost], ['reconnecting', lost]);
    for (const [event, listener] of this.dataListeners) this.client.on(event, listener);
    this.timer = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
    this.timer.unref();
  }

  /** Connects the target and waits for tracking to be confirmed; a refusal (ACL, old Redis) is logged, not thrown. */
  async connect(): Promise<void> {
    const target = this.target;
    if (target === undefined) return;
    if (target.status === 'wait') await target.connect();
    await this.tracking;
  }

  /** Resolves once the invalidations Redis sent this connection's target before now have been handled. */
  async settled(): Promise<void> {
    const target = this.target;
    if (target !== undefined && target.status === 'ready') await this.detector.bound(target.ping());
  }

  /** Stops following the data connection (turning tracking off on one the store does not own) and quits the target. */
  async close(owned: boolean): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const [event, listener] of this.dataListeners.splice(0)) this.client.off(event, listener);
    const target = this.target;
    this.target = undefined;
    this.targetLost();
    if (!owned && this.client.status === 'ready' && !this.detector.isFailing) {
      await this.detector.bound(this.client.call('CLIENT', 'TRACKING', 'OFF')).catch(() => undefined);
    }
    if (target !== undefined) await this.detector.quit(target);
  }

  private async subscribe(target: Redis): Promise<void> {
    this.targetLost();
    const id = await this.detector.bound(target.client('ID'));
    await this.detector.bound(target.subscribe(INVALIDATE));
    if (target !== this.target || target.status !== 'ready') return;
    this.targetId = Number(id);
    this.lastPong = Date.now();
    this.alive = true;
    await this.track();
  }

  /** (Re-)enables tracking on the data connection towards the current target. */
  private async track(): Promise<void> {
    const id = this.targetId;
    if (id === undefined || this.client.status !== 'ready') return;
    const attempt = ++this.attempt;
    this.tracked = false;
    this.trackPending = true;
    try {
      await this.detector.bound(this.client.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id)));
    } finally {
      this.trackPending = false;
    }
    if (attempt !== this.attempt || id !== this.targetId) return;
    this.tracked = true;
    this.warned = false;
  }

  /** A connection closed: nothing cached can be trusted any more, and tracking must be confirmed again. */
  private lost(): void {
    this.attempt++;
    this.tracked = false;
    this.cache.flush();
  }

  /** The target closed, or is being replaced: its id is no redirect any more. */
  private targetLost(): void {
    this.targetId = undefined;
    this.lost();
  }

  private onInvalidate(keys: unknown): void {
    if (!Array.isArray(keys)) {
      // A nil list: FLUSHALL, FLUSHDB, or Redis dropping keys from its tracking table.
      this.cache.flush();
      return;
    }
    for (const key of keys) this.cache.invalidated(String(key));
  }

  /** Keeps the lease: a PING on the target; tracking retried when it is off while both connections are up. */
  private heartbeat(): void {
    const target = this.target;
    if (target === undefined) return;
    if (this.alive && Date.now() - this.lastPong > LEASE_MS) {
      this.alive = false;
      this.cache.flush();
    }
    if (this.targetId === undefined || target.status !== 'ready') return;
    if (!this.tracked && !this.trackPending && this.client.status === 'ready') {
      this.tracking = this.track().catch((error: unknown) => this.failed(error));
    }
    if (this.pinging) return;
    this.pinging = true;
    target.ping().then(
      () => {
        this.pinging = false;
        if (target !== this.target) return;
        this.lastPong = Date.now();
        this.alive = true;
      },
      () => {
        this.pinging = false;
      },
    );
  }

  /** Only a refusal is logged: an outage is the failure detector's to report. */
  private failed(error: unknown): void {
    if (this.warned || !isReplyError(error)) return;
    this.warned = true;
    this.logger.warn(`Near cache bypassed: Redis invalidation tracking is not on (${describeError(error)})`);
  }
}
