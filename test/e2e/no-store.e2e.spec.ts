import type { SessionPolicy } from '../../lib/index.js';
import { ADAPTERS, startForBlock, startWithStore, type AdapterName, type StoreApp } from '../support/app.js';
import { AuthController } from '../support/auth.controller.js';
import { Browser } from '../support/browser.js';

// AuthController: POST /login {user}, POST /logout, GET /me (@Connected) → {user}, GET /public → {user | null}.
function start(adapter: AdapterName, policy: Partial<SessionPolicy> = {}): Promise<StoreApp> {
  return startWithStore({ adapter, controllers: [AuthController], policy });
}

function cacheControl(response: { headers: Headers }): string {
  return response.headers.get('cache-control') ?? '';
}

describe.each(ADAPTERS)('Cache-Control on %s', (adapter) => {
  describe('by default', () => {
    const s = startForBlock(() => start(adapter));

    it('is no-store on every response of a connected request, guarded or not, so the back button shows nothing private', async () => {
      const b = new Browser(s.t.url);
      expect((await b.post('/login', { user: 'nora' })).status).toBe(201);
      const me = await b.get('/me');
      expect(me.status).toBe(200);
      expect(me.body).toEqual({ user: 'nora' });
      expect(cacheControl(me)).toBe('no-store');
      const pub = await b.get('/public');
      expect(pub.body).toEqual({ user: 'nora' });
      expect(cacheControl(pub)).toBe('no-store');
    });

    it('is left alone on anonymous requests, which carry nothing private', async () => {
      const b = new Browser(s.t.url);
      const pub = await b.get('/public');
      expect(pub.body).toEqual({ user: null });
      expect(cacheControl(pub)).not.toContain('no-store');
      const me = await b.get('/me');
      expect(me.status).toBe(401);
      expect(cacheControl(me)).not.toContain('no-store');
    });

    it('stops with the session: after logout the same browser gets cacheable public pages again', async () => {
      const b = new Browser(s.t.url);
      await b.post('/login', { user: 'olga' });
      expect(cacheControl(await b.get('/me'))).toBe('no-store');
      await b.post('/logout');
      const after = await b.get('/public');
      expect(after.body).toEqual({ user: null });
      expect(cacheControl(after)).not.toContain('no-store');
    });
  });

  describe('with noStore: false', () => {
    const s = startForBlock(() => start(adapter, { noStore: false }));

    it('sends no Cache-Control on connected reads (the application decides)', async () => {
      const b = new Browser(s.t.url);
      await b.post('/login', { user: 'pia' });
      const me = await b.get('/me');
      expect(me.body).toEqual({ user: 'pia' });
      expect(cacheControl(me)).not.toContain('no-store');
    });
  });
});
