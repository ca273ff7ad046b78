import type { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { Deadlines } from '../../util/deadlines.js';
import { describeError } from '../../util/describe-error.js';
import { isReplyError, quitClient, type AnyClient, type StoreClient } from './redis-client.js';

const PROBE_FIRST_MS = 100;
const PROBE_MAX_MS = 2_000;

/** One Redis command (or script call) on the store's client. */
export type RedisCommand<T> = (client: StoreClient) => Promise<T>;

/** Sends one command under the fail-fast policy. */
export type RunCommand = <T>(command: RedisCommand<T>) => Promise<T>;

/** The store's two connections, each reported once per outage. */
export type ConnectionName = 'client' | 'subscriber';

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/**
 * The fail-fast policy of RedisStore. Once Redis looks down or hung (a command that could not be sent, a call that
 * missed its deadline), every command is refused at once until a PING answers, so that a hung server never collects
 * a queue of waiting requests; a hung connection the store owns is dropped and reconnected.
 *
 * It does not time the calls made for a request: their deadline is the policy's `storeTimeout`, whose owner tells
 * the store when one is missed ({@link callTimedOut}). It bounds, with `commandTimeoutMs`, only the store's own work
 * that no request waits on: background commands ({@link runBackground}), the PING probe, and the waits of open/close.
 */
export class RedisFailureDetector {
  /** Set by a command that could not be sent or missed its deadline; cleared by the first PING that answers. */
  private failing = false;
  /** Set while the store is closed or closing: an outage then is expected, and nothing is probed or logged. */
  private stopped = false;
  /** Connections whose outage was logged, so that ioredis's error per reconnection attempt is not. */
  private readonly reported = new Set<ConnectionName>();
  private readonly deadlines: Deadlines;

  constructor(
    private readonly client: StoreClient,
    private readonly ownsClient: boolean,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {
    this.deadlines = new Deadlines(timeoutMs, `RedisStore: no answer from Redis within ${timeoutMs} ms`);
    if (ownsClient) {
      client.on('error', (error: unknown) => this.connectionError('client', error));
      client.on('ready', () => this.connected('client'));
    }
  }

  /** Whether commands are refused at once now. */
  get isFailing(): boolean {
    return this.failing;
  }

  /** Lets outages start fail-fast (again, after a close). */
  start(): void {
    this.stopped = false;
  }

  /** From now on an outage is the store's own doing: no fail-fast, no probe, no log. */
  stop(): void {
    this.stopped = true;
  }

  /**
   * A command made for a request: refused at once while failing, and failing from its rejection on unless Redis
   * answered it. It arms no timer: the caller's deadline (`storeTimeout`) bounds it.
   */
  readonly run: RunCommand = (command) => {
    if (this.failing) return this.refused();
    return this.send(command).then(undefined, (error: unknown) => {
      if (!isReplyError(error)) this.startFailing(false, error);
      throw error;
    });
  };

  /** A command no request waits on (sweeps, publishes): as {@link run}, and bounded by `commandTimeoutMs`. */
  readonly runBackground: RunCommand = (command) => {
    if (this.failing) return this.refused();
    return this.deadlines.bound(this.send(command), (error, late) => {
      if (late || !isReplyError(error)) this.startFailing(late, error);
      return error;
    });
  };

  /** `promise`, or a rejection once `ms` (by default `commandTimeoutMs`) passed. */
  bound<T>(promise: Promise<T>, ms = this.timeoutMs): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`RedisStore: no answer from Redis within ${ms} ms`)), ms);
    });
    return Promise.race([promise, late]).finally(() => clearTimeout(timer));
  }

  /** QUIT on `client` within `commandTimeoutMs`, unless Redis is failing; then, or past that, it is disconnected. */
  quit(client: AnyClient): Promise<void> {
    return quitClient(client, (promise) => this.bound(promise), !this.failing);
  }

  /**
   * A store call made for a request missed its deadline: Redis is taken as hung. Logs nothing: the deadline's owner
   * logged the miss, and every call refused from now on says why.
   */
  callTimedOut(): void {
    this.startFailing(true);
  }

  /** An error event of a connection: one line per connection and outage. */
  connectionError(which: ConnectionName, error: unknown): void {
    // ioredis reports every failed reconnection attempt: one line per connection and outage is enough.
    if (this.stopped || this.reported.has(which)) return;
    this.reported.add(which);
    this.logger.warn(`Redis ${which} connection: ${describeError(error)} (reconnecting; not logged again until it is back)`);
  }

  /** A connection is ready (again): its next outage is logged. */
  connected(which: ConnectionName): void {
    this.reported.delete(which);
  }

  private send<T>(command: RedisCommand<T>): Promise<T> {
    try {
      return command(this.client);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private refused(): Promise<never> {
    return Promise.reject(new Error('RedisStore: Redis is not answering (failing fast until a PING answers)'));
  }

  /**
   * `hung`: Redis did not answer in time, so a connection the store owns is dropped rather than waited on. `cause`,
   * when given, is logged: nobody else logged it.
   */
  private startFailing(hung: boolean, cause?: unknown): void {
    if (this.failing || this.stopped) return;
    this.failing = true;
    if (cause !== undefined) {
      this.logger.error(`Redis is not answering (${describeError(cause)}); store calls fail at once until a PING answers`);
    }
    if (hung && this.ownsClient) {
      // A hung server keeps the connection open: drop it, with whatever waits on it, and reconnect. Until the new
      // connection's handshake completes, nothing is written to it, so nothing piles up while the server hangs.
      (this.client as Redis).disconnect(true);
    }
    void this.probe();
  }

  /**
   * Lets calls through again once a PING answers. One PING at a time: while it has no answer (a client of yours
   * without a command timeout keeps it queued until Redis is back) no other is sent; checks back off up to 2 s.
   */
  private async probe(): Promise<void> {
    let wait = PROBE_FIRST_MS;
    let ping: Promise<boolean> | undefined;
    while (this.failing && !this.stopped) {
      await sleep(wait);
      if (this.stopped) break;
      ping ??= this.client.ping().then(
        () => true,
        () => false,
      );
      const answered = await Promise.race([ping, sleep(this.timeoutMs).then(() => undefined)]);
      if (answered === true) {
        this.logger.log('Redis answers again');
        break;
      }
      if (answered === false) ping = undefined;
      wait = Math.min(wait * 2, PROBE_MAX_MS);
    }
    this.failing = false;
  }
}
