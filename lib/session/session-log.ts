import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';

/** How many rejected-cookie lines a window logs one by one before it only counts them. */
const REJECTED_LINES = 5;
/** The window of that bound: a flood of bad cookies costs at most this many lines plus one summary a minute. */
const REJECTED_WINDOW_MS = 60_000;

/**
 * The engine's log, one provider for every service of it, so that its lines share one context name ('Session')
 * and one place decides how much a client can make it write. Lines never carry a session id or cookie value.
 */
@Injectable()
export class SessionLog implements OnApplicationShutdown {
  private readonly logger = new Logger('Session');
  private windowStart = 0;
  private logged = 0;
  private suppressed = 0;
  private summary: NodeJS.Timeout | undefined;

  debug(message: string): void {
    this.logger.debug(message);
  }

  log(message: string): void {
    this.logger.log(message);
  }

  warn(message: string): void {
    this.logger.warn(message);
  }

  error(message: string): void {
    this.logger.error(message);
  }

  /**
   * A request's session cookie was refused (bad signature, malformed header, ...). Anyone can send these, so only
   * the first few of each minute are logged one by one; the rest are counted and summarised in one line when the
   * minute ends.
   */
  rejectedCookie(message: string, now = Date.now()): void {
    if (now - this.windowStart >= REJECTED_WINDOW_MS) {
      this.flush();
      this.windowStart = now;
      this.logged = 0;
    }
    if (this.logged < REJECTED_LINES) {
      this.logged++;
      this.logger.warn(message);
      return;
    }
    this.suppressed++;
    this.summary ??= setTimeout(() => this.flush(), this.windowStart + REJECTED_WINDOW_MS - now).unref();
  }

  onApplicationShutdown(): void {
    this.flush();
  }

  private flush(): void {
    clearTimeout(this.summary);
    this.summary = undefined;
    if (this.suppressed === 0) return;
    const count = this.suppressed;
    this.suppressed = 0;
    this.logger.warn(`${count} more requests with invalid session cookies in the last minute (not logged one by one)`);
  }
}

/** How a log line names the client of a request. */
export function clientOf(ip: string | undefined): string {
  return `client ${ip ?? 'unknown'}`;
}
