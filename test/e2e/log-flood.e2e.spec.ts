import { ADAPTERS, startApp, type AdapterName, type TestApp } from '../support/app.js';
import { randomId } from '../support/auth-helpers.js';
import { AuthController } from '../support/auth.controller.js';
import { CapturedLog } from '../support/captured-log.js';

const FLOOD = 200;

describe.each(ADAPTERS)('a flood of invalid session cookies on %s', (adapter: AdapterName) => {
  let t: TestApp;
  const log = new CapturedLog();

  beforeAll(async () => {
    t = await startApp({ adapter, controllers: [AuthController], configure: (app) => app.useLogger(log) });
  });

  it('logs the first few one by one and the rest as one summary line, and every request is still answered', async () => {
    const statuses = new Set<number>();
    for (let i = 0; i < FLOOD; i++) {
      const response = await fetch(`${t.url}/public`, { headers: { cookie: `sid=${randomId()}.${randomId()}` } });
      statuses.add(response.status);
      expect(await response.json()).toEqual({ user: null });
    }
    expect([...statuses]).toEqual([200]);
    const oneByOne = log.matching('Session cookie rejected');
    expect(oneByOne).toHaveLength(5);
    expect(log.matching('more requests with invalid session cookies')).toEqual([]);
    // The summary goes out when the minute ends, or at shutdown at the latest.
    await t.close();
    expect(log.matching('more requests with invalid session cookies')).toEqual([
      `${FLOOD - 5} more requests with invalid session cookies in the last minute (not logged one by one)`,
    ]);
    expect(log.matching('Session cookie rejected')).toHaveLength(5);
  });
});
