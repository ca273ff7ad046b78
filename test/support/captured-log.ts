import { Logger, type LoggerService } from '@nestjs/common';

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

/** The one log of this spec file (Jest gives each file its own module registry, so each file gets its own). */
let fileLog: CapturedLog | undefined;

/**
 * For specs that log without an application (a store used directly): every line Nest's `Logger` writes while the
 * file runs goes to the file's {@link CapturedLog}, the same one on every call, instead of the console. Call it at
 * the top of the file or of a `describe`; assert on the lines that matter.
 *
 * It replaces Nest's process-wide logger, as `app.useLogger()` does; an app the file starts later with
 * `logger: false` or `useLogger()` replaces it again.
 */
export function captureNestLogs(): CapturedLog {
  const log = (fileLog ??= new CapturedLog());
  beforeAll(() => Logger.overrideLogger(log));
  return log;
}
