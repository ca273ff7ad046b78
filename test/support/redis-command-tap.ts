import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import type { RedisStore } from '../../lib/stores/redis/redis.store.js';

/** One command a client sent to Redis, with the commands it ran inside Redis when it is a script (lowercase names). */
export interface TappedCall {
  /** The client's address: which connection sent it. */
  readonly source: string;
  readonly name: string;
  readonly args: readonly string[];
  readonly inner: ReadonlyArray<readonly string[]>;
}

/** What one operation cost: the commands the client sent (each a round trip unless sent together) and all Redis ran. */
export interface CommandCost {
  readonly calls: TappedCall[];
  /** Commands the client sent: scripts and plain commands. */
  readonly sent: number;
  /** Commands Redis ran: those sent, and those the scripts ran (what `INFO commandstats` counts). */
  readonly run: number;
  /** `evalsha[hmget hset] hgetall`: the calls in order, a script's inner commands in brackets. */
  readonly detail: string;
}

const MARK_USER = 'command-tap';
const MARK_FIELD = 'f:tap-mark-';
const DEADLINE_MS = 10_000;

/**
 * Watches every command a redis-server runs (MONITOR, which also shows what scripts run, marked `lua`), so that a
 * test can count what one store operation costs. The operation is framed by two markers sent on the store's own
 * connection (a `getUserField` of a field nobody writes): whatever the store sent before the closing marker, even
 * unawaited, is inside the frame, since one connection's commands run in order.
 *
 * Only the commands sent on that connection count (not the test's own, nor another store's), and never the expiry
 * sweeper's claims (the one script that runs ZRANGEBYSCORE), which run once a second whatever the test does.
 */
export class RedisCommandTap {
  private readonly calls: TappedCall[] = [];

  private constructor(private readonly monitor: Redis) {
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      const [name = '', ...rest] = args;
      const command = [name.toLowerCase(), ...rest];
      if (source === 'lua') {
        const last = this.calls[this.calls.length - 1];
        if (last !== undefined) (last.inner as Array<readonly string[]>).push(command);
        return;
      }
      this.calls.push({ source, name: command[0], args: rest, inner: [] });
    });
  }

  /** Starts watching the server at `url`. */
  static async start(url: string): Promise<RedisCommandTap> {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    return new RedisCommandTap(await client.monitor());
  }

  /** The commands `store` sent for `operation`, and what they ran. */
  async cost(store: RedisStore, operation: () => Promise<unknown>): Promise<CommandCost> {
    const from = await this.mark(store);
    await operation();
    const to = await this.mark(store);
    const { source } = this.calls[from];
    const calls = this.calls.slice(from + 1, to).filter((call) => call.source === source && counts(call));
    const run = calls.reduce((sum, call) => sum + 1 + call.inner.length, 0);
    const detail = calls
      .map((call) => (call.inner.length === 0 ? call.name : `${call.name}[${call.inner.map(([name]) => name).join(' ')}]`))
      .join(' ');
    return { calls, sent: calls.length, run, detail };
  }

  stop(): void {
    this.monitor.disconnect();
  }

  /** Sends a marker on the store's connection; resolves the index of its call once the monitor saw it. */
  private async mark(store: RedisStore): Promise<number> {
    const field = `tap-mark-${randomBytes(6).toString('hex')}`;
    await store.getUserField(MARK_USER, field);
    const deadline = Date.now() + DEADLINE_MS;
    for (;;) {
      const index = this.calls.findIndex((call) => call.args.includes(`f:${field}`));
      if (index !== -1) return index;
      if (Date.now() > deadline) throw new Error('the monitor never saw the marker');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

/** Whether a call of the store's connection is part of an operation (not a marker, not the sweeper's claim). */
function counts(call: TappedCall): boolean {
  if (call.args.some((arg) => arg.startsWith(MARK_FIELD))) return false;
  return !call.inner.some(([name]) => name === 'zrangebyscore');
}
