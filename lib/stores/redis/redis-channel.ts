import type { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { describeError } from '../../util/describe-error.js';
import type { StoreRemoval, StoreRemovalReason } from '../session-store.js';
import { duplicateForPubSub, type AnyClient, type StoreClient } from './redis-client.js';
import type { RedisFailureDetector } from './redis-failure-detector.js';

interface RemovalMessage {
  origin: string;
  key: string;
  reason: StoreRemovalReason;
  /** The session's new key, when it goes on under one (`reauthenticate()`). */
  movedTo?: string;
}

interface EpochMessage {
  origin: string;
  user: string;
}

const REASONS: ReadonlySet<string> = new Set<StoreRemovalReason>(['destroyed', 'expired', 'evicted']);

/** What the channel hears from the other servers. */
export interface ChannelEvents {
  /** Another server removed a session (without its record). */
  removed(removal: StoreRemoval): void;
  /** Another server closed a user: its epoch changed. */
  userClosed(userId: string): void;
  /** The subscription is live again: messages may have been missed while it was down. */
  resubscribed(): void;
  /** The subscription went down: from now on messages may be missed. */
  lost(): void;
}

/**
 * The pub/sub channel the servers of one prefix share: removals and epoch changes, so that every server closes the
 * sockets and drops the in-memory values of sessions closed elsewhere. It has its own subscriber connection (a
 * duplicate of the client); this server's own messages are told apart by a random origin. Publishes are background
 * work, bounded by `commandTimeoutMs`, and never awaited by the operation they report.
 */
export class RemovalChannel {
  private readonly origin = randomBytes(12).toString('base64url');
  private subscriber: AnyClient | undefined;
  /** True while the subscription is known to be live. */
  private live = false;
  private readonly publishing = new Set<Promise<unknown>>();

  constructor(
    private readonly client: StoreClient,
    private readonly name: string,
    private readonly detector: RedisFailureDetector,
    private readonly events: ChannelEvents,
    private readonly logger: Logger,
  ) {}

  /** Whether the subscription is known to be live: only then may what it invalidates be cached. */
  get subscribed(): boolean {
    return this.live;
  }

  /** Creates the subscriber connection, not connected yet, and listens to it. */
  attach(): void {
    const subscriber = duplicateForPubSub(this.client);
    this.subscriber = subscriber;
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.name) this.onMessage(message);
    });
    subscriber.on('ready', () => {
      this.detector.connected('subscriber');
      this.subscribeOn(subscriber).catch((error: unknown) => this.detector.connectionError('subscriber', error));
    });
    for (const event of ['close', 'end', 'reconnecting']) {
      subscriber.on(event, () => {
        if (subscriber === this.subscriber) this.down();
      });
    }
    subscriber.on('error', (error: unknown) => this.detector.connectionError('subscriber', error));
  }

  /** Connects the subscriber connection and subscribes, unless that is done already. */
  async connect(): Promise<void> {
    const subscriber = this.subscriber;
    if (subscriber === undefined) return;
    if (subscriber.status === 'wait') await subscriber.connect();
    if (!this.live) await this.subscribeOn(subscriber);
  }

  /** Drops the subscriber connection at once (a start that failed). */
  abandon(): void {
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    subscriber?.disconnect();
  }

  /** Resolves once the messages in flight went out (or failed to). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.publishing]);
  }

  /** Unsubscribes and quits the subscriber connection, bounded even when Redis is down or hung. */
  async close(): Promise<void> {
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    this.down();
    if (subscriber === undefined) return;
    await this.detector.bound(subscriber.unsubscribe(this.name)).catch(() => undefined);
    await this.detector.quit(subscriber);
  }

  /** Tells the other servers that a session left the store (for `movedTo`, to go on under that key). */
  publishRemoval(key: string, reason: StoreRemovalReason, movedTo?: string): void {
    this.publish(
      (movedTo === undefined
        ? { origin: this.origin, key, reason }
        : { origin: this.origin, key, reason, movedTo }) satisfies RemovalMessage,
    );
  }

  /** Tells the other servers that a user's epoch changed. */
  publishUserClosed(userId: string): void {
    this.publish({ origin: this.origin, user: userId } satisfies EpochMessage);
  }

  private async subscribeOn(subscriber: AnyClient): Promise<void> {
    await this.detector.bound(subscriber.subscribe(this.name));
    if (subscriber !== this.subscriber) return;
    this.events.resubscribed();
    this.live = true;
  }

  private down(): void {
    this.live = false;
    this.events.lost();
  }

  private onMessage(text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (message === null || typeof message !== 'object') return;
    const { origin, key, reason, user, movedTo } = message as Partial<Record<string, unknown>>;
    if (typeof origin !== 'string' || origin === this.origin) return;
    if (typeof user === 'string') this.events.userClosed(user);
    if (typeof key === 'string' && typeof reason === 'string' && REASONS.has(reason)) {
      const removal = { key, reason: reason as StoreRemovalReason, record: undefined };
      this.events.removed(typeof movedTo === 'string' && movedTo !== key ? { ...removal, movedTo } : removal);
    }
  }

  /** Not awaited by the operation it reports (the write has happened); close() waits for what is in flight. */
  private publish(message: RemovalMessage | EpochMessage): void {
    const sent = this.detector
      .runBackground((c) => c.publish(this.name, JSON.stringify(message)))
      .catch((error: unknown) => this.logger.warn(`Could not tell the other servers of a removal: ${describeError(error)}`));
    this.publishing.add(sent);
    void sent.finally(() => this.publishing.delete(sent));
  }
}
