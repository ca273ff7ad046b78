import { resolveSessionPolicy } from '../../../lib/session-policy.js';
import { idleTimeoutOf, touchIntervalMs } from '../../../lib/session/touch-interval.js';
import type { SessionRecord } from '../../../lib/stores/session-record.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

describe('touchIntervalMs', () => {
  it.each([
    [24 * HOUR, MINUTE],
    [HOUR, MINUTE],
    [30 * MINUTE, 30 * SECOND],
    [10 * MINUTE, 10 * SECOND],
    [2 * MINUTE, 2 * SECOND],
    [MINUTE, SECOND],
    [30 * SECOND, SECOND],
    [10 * SECOND, SECOND],
    [5 * SECOND, 500],
    [SECOND, 100],
    [200, 20],
  ])('an idle timeout of %d ms is touched every %d ms', (idle, interval) => {
    expect(touchIntervalMs(idle)).toBe(interval);
  });

  it('touches at least ten times per idle timeout and at most once a minute, never more than once a second past 10 s', () => {
    for (let idle = 100; idle <= 48 * HOUR; idle = Math.ceil(idle * 1.37)) {
      const interval = touchIntervalMs(idle);
      expect(interval).toBeLessThanOrEqual(idle / 10);
      expect(interval).toBeLessThanOrEqual(MINUTE);
      if (idle >= 10 * SECOND) expect(interval).toBeGreaterThanOrEqual(SECOND);
    }
  });
});

describe('idleTimeoutOf', () => {
  const policy = resolveSessionPolicy({ secret: 'a'.repeat(32), idleTimeout: 3600, anonymous: { idleTimeout: 120 } });
  const record = (userId: string | undefined): SessionRecord => ({
    userId,
    epoch: 0,
    createdAt: 0,
    lastSeenAt: 0,
    idleExpiresAt: 1,
    absoluteExpiresAt: 1,
    data: {},
  });

  it('is the policy idle timeout for a user, the anonymous one without', () => {
    expect(idleTimeoutOf(policy, record('alice'))).toBe(HOUR);
    expect(idleTimeoutOf(policy, record(undefined))).toBe(2 * MINUTE);
  });
});
