import type { LoggerService } from '@nestjs/common';

/** Every line the application logs, kept for the assertions instead of printed (`app.useLogger(log)`). */
export class CapturedLog implements LoggerService {
  readonly lines: Array<{ level: string; message: string }> = [];

  log(message: unknown): void {
    this.lines.push({ level: 'log', message: String(message) });
  }

  warn(message: unknown): void {
    this.lines.push({ level: 'warn', message: String(message) });
  }

  error(message: unknown): void {
    this.lines.push({ level: 'error', message: String(message) });
  }

  debug(message: unknown): void {
    this.lines.push({ level: 'debug', message: String(message) });
  }

  verbose(message: unknown): void {
    this.lines.push({ level: 'verbose', message: String(message) });
  }

  /** The error lines. */
  get errors(): string[] {
    return this.lines.filter((line) => line.level === 'error').map((line) => line.message);
  }

  /** The warning lines that contain `text`. */
  matching(text: string): string[] {
    return this.lines.filter((line) => line.level === 'warn' && line.message.includes(text)).map((line) => line.message);
  }
}
