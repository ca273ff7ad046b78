import { Injectable, Logger } from '@nestjs/common';

/**
 * The engine's log, one provider for every service of it, so that its lines share one context name ('Session')
 * and one place decides how much a client can make it write. Lines never carry a session id or cookie value.
 */
@Injectable()
export class SessionLog {
  private readonly logger = new Logger('Session');

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
}

/** How a log line names the client of a request. */
export function clientOf(ip: string | undefined): string {
  return `client ${ip ?? 'unknown'}`;
}
