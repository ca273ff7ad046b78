import { Logger, type LoggerService } from '@nestjs/common';
import { SessionLog } from '../../../lib/session/session-log.js';

describe('SessionLog.rejectedCookie', () => {
  const warnings: string[] = [];
  const capture: LoggerService = {
    log: () => undefined,
    error: () => undefined,
    warn: (message: unknown) => void warnings.push(String(message)),
  };

  beforeEach(() => {
    warnings.length = 0;
    Logger.overrideLogger(capture);
  });

  it('logs five lines a minute one by one, then summarises the rest when the next minute starts', () => {
    const log = new SessionLog();
    for (let i = 0; i < 7; i++) log.rejectedCookie(`bad ${i}`, 1_000 + i);
    expect(warnings).toEqual(['bad 0', 'bad 1', 'bad 2', 'bad 3', 'bad 4']);
    log.rejectedCookie('bad 7', 61_000);
    expect(warnings.slice(5)).toEqual(['2 more requests with invalid session cookies in the last minute (not logged one by one)', 'bad 7']);
    log.onApplicationShutdown();
    expect(warnings).toHaveLength(7);
  });

  it('writes no summary when nothing was held back', () => {
    const log = new SessionLog();
    log.rejectedCookie('only one', 0);
    log.onApplicationShutdown();
    expect(warnings).toEqual(['only one']);
  });
});
