import type { Logger } from '@nestjs/common';
import type { Cluster, Redis } from 'ioredis';
import type { AnyClient } from './redis-client.js';
import type { RedisFailureDetector } from './redis-failure-detector.js';
import { NearCache, type NearCacheBounds } from './redis-near-cache.js';
import type { RedisKeys } from './redis-keys.js';
import { TrackedConnection } from './redis-tracked-connection.js';

/** How often a Cluster's masters are compared with the connections tracked (besides on every node event). */
const RECONCILE_MS = 200;

/**
 * Invalidation tracking for the {@link NearCache} on every connection reads go to: the one of a standalone client, or
 * each master's of a Cluster (tracking redirects within one server, so each master gets a target connection of its
 * own). Trusted only while every one of them is ({@link TrackedConnection}). A Cluster's set of masters is followed
 * (node events, and a check every 0.2 s for a replica promoted in place): any change flushes the cache, and a new
 * master is untrusted until tracking is confirmed on it. A Cluster that reads from replicas (`scaleReads`) is not
 * supported: reads there are not tracked.
 */
export class InvalidationTracking {
  private readonly connections = new Map<Redis, TrackedConnection>();
  private timer: NodeJS.Timeout | undefined;
  private readonly onNodes = () => this.reconcile();
  private attached = false;

  constructor(
    private readonly client: AnyClient,
    private readonly cache: NearCache,
    private readonly detector: RedisFailureDetector,
    private readonly logger: Logger,
  ) {}

  /**
   * A near cache within `bounds` and the tracking that keeps it true, or undefined when reads on `client` cannot be
   * tracked. A copy is trusted only while the tracking is and `detector` sees Redis answering; the cache is keyed by
   * session key, so an invalidation's Redis key is mapped back through `keys`.
   */
  static start(
    client: AnyClient,
    bounds: NearCacheBounds,
    keys: RedisKeys,
    detector: RedisFailureDetector,
    logger: Logger,
  ): { near: NearCache; tracking: InvalidationTracking } | undefined {
    const near: NearCache = new NearCache(
      bounds,
      () => !detector.isFailing && tracking.trusted,
      (name) => keys.sessionKeyOf(name),
    );
    const tracking = new InvalidationTracking(client, near, detector, logger);
    return tracking.supported ? { near, tracking } : undefined;
  }

  /** Whether reads on this client can be tracked: standalone, or a Cluster reading from masters only. */
  get supported(): boolean {
    if (!this.client.isCluster) return true;
    const { scaleReads } = (this.client as Cluster).options;
    return scaleReads === undefined || scaleReads === 'master';
  }

  /** Whether a cached copy may be served now. */
  get trusted(): boolean {
    if (this.connections.size === 0) return false;
    for (const connection of this.connections.values()) if (!connection.trusted) return false;
    return true;
  }

  /**
   * Runs `read` once every invalidation Redis sent before now has been handled (a PING on each target connection,
   * its PONG coming after them), so that only a later change keeps its result out of the cache. Best effort: a
   * failure of either is ignored.
   */
  afterInvalidations(read: () => Promise<unknown>): void {
    Promise.all([...this.connections.values()].map((connection) => connection.settled()))
      .then(read)
      .catch(() => undefined);
  }

  /** Starts tracking the connections there are (not connected yet, for a standalone client) and follows them. */
  attach(): void {
    this.attached = true;
    if (!this.client.isCluster) {
      this.add(this.client as Redis);
      return;
    }
    const cluster = this.client as Cluster;
    cluster.on('+node', this.onNodes);
    cluster.on('-node', this.onNodes);
    this.timer = setInterval(this.onNodes, RECONCILE_MS);
    this.timer.unref();
    this.reconcile();
  }

  /** Connects what must be and waits for tracking to be confirmed everywhere; a refusal is logged, not thrown. */
  async connect(): Promise<void> {
    await Promise.all([...this.connections.values()].map((connection) => connection.connect()));
  }

  /** Stops tracking (turning it off on connections the store does not own) and quits the target connections. */
  async close(owned: boolean): Promise<void> {
    this.attached = false;
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.client.isCluster) {
      this.client.off('+node', this.onNodes);
      this.client.off('-node', this.onNodes);
    }
    const connections = [...this.connections.values()];
    this.connections.clear();
    this.cache.flush();
    await Promise.all(connections.map((connection) => connection.close(owned)));
  }

  private add(node: Redis): TrackedConnection {
    const connection = new TrackedConnection(node, this.cache, this.detector, this.logger);
    this.connections.set(node, connection);
    connection.attach();
    return connection;
  }

  /** Tracks every master of the Cluster, and only those. */
  private reconcile(): void {
    if (!this.attached) return;
    const masters = new Set((this.client as Cluster).nodes('master'));
    let changed = false;
    for (const [node, connection] of this.connections) {
      if (masters.has(node)) continue;
      changed = true;
      this.connections.delete(node);
      void connection.close(false);
    }
    for (const node of masters) {
      if (this.connections.has(node)) continue;
      changed = true;
      const connection = this.add(node);
      // A Cluster connects its node connections lazily: tracking needs this one up.
      if (node.status === 'wait') node.connect().catch(() => undefined);
      void connection.connect();
    }
    if (changed) this.cache.flush();
  }
}
