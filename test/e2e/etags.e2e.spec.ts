import { Controller, Get, Header, type INestApplication } from '@nestjs/common';
import type { SessionPolicy } from '../../lib/index.js';
import { Connected, CurrentUser } from '../../lib/index.js';
import { startForBlock, startWithStore, type StoreApp } from '../support/app.js';
import { AuthController } from '../support/auth.controller.js';
import { Browser, type Reply } from '../support/browser.js';

/** A connected read whose handler allows the browser to keep its answer for a minute. */
@Controller()
class KeptController {
  @Connected()
  @Get('kept')
  @Header('Cache-Control', 'private, max-age=60')
  kept(@CurrentUser() user: string) {
    return { user };
  }
}

// AuthController: POST /login {user}, POST /logout, GET /me (@Connected) → {user}, GET /public → {user | null}.
function start(policy: Partial<SessionPolicy> = {}, configure?: (app: INestApplication) => void): Promise<StoreApp> {
  return startWithStore({ adapter: 'express', controllers: [AuthController, KeptController], policy, ...(configure ? { configure } : {}) });
}

/**
 * The same request again, as a browser revalidating a copy it kept would send it. `Cache-Control` is given because
 * fetch would otherwise add `no-cache` to a conditional request, and Express never answers 304 to that.
 */
function revalidate(browser: Browser, path: string, etag: string): Promise<Reply> {
  return browser.get(path, { headers: { 'if-none-match': etag, 'cache-control': 'max-age=0' } });
}

describe('ETags on Express', () => {
  describe('by default', () => {
    const s = startForBlock(() => start());

    it('sends none with a no-store answer, and answers its revalidation in full', async () => {
      const b = new Browser(s.t.url);
      await b.post('/login', { user: 'nora' });
      const me = await b.get('/me');
      expect(me.status).toBe(200);
      expect(me.body).toEqual({ user: 'nora' });
      expect(me.headers.get('cache-control')).toBe('no-store');
      expect(me.headers.get('etag')).toBeNull();
      const pub = await b.get('/public');
      expect(pub.body).toEqual({ user: 'nora' });
      expect(pub.headers.get('etag')).toBeNull();

      // /kept sends the same body with an ETag: Express would answer this tag on /me with a bodiless 304, had it
      // computed its own.
      const kept = await b.get('/kept');
      expect(kept.text).toBe(me.text);
      const etag = kept.headers.get('etag');
      expect(etag).toMatch(/^W\/"/);
      const again = await revalidate(b, '/me', etag!);
      expect(again.status).toBe(200);
      expect(again.body).toEqual({ user: 'nora' });
      expect(again.headers.get('etag')).toBeNull();
    });

    it('leaves the anonymous answers their ETag, and Express its 304 for them', async () => {
      const b = new Browser(s.t.url);
      const pub = await b.get('/public');
      expect(pub.body).toEqual({ user: null });
      const etag = pub.headers.get('etag');
      expect(etag).toMatch(/^W\/"/);
      const again = await revalidate(b, '/public', etag!);
      expect(again.status).toBe(304);
      expect(again.text).toBe('');
    });

    it('keeps the ETag of a connected answer whose handler lets the browser keep it', async () => {
      const b = new Browser(s.t.url);
      await b.post('/login', { user: 'olga' });
      const kept = await b.get('/kept');
      expect(kept.body).toEqual({ user: 'olga' });
      expect(kept.headers.get('cache-control')).toBe('private, max-age=60');
      const etag = kept.headers.get('etag');
      expect(etag).toMatch(/^W\/"/);
      expect((await revalidate(b, '/kept', etag!)).status).toBe(304);
    });

    it('gives the answer back its ETag once the session is gone', async () => {
      const b = new Browser(s.t.url);
      await b.post('/login', { user: 'pia' });
      expect((await b.get('/public')).headers.get('etag')).toBeNull();
      await b.post('/logout');
      const after = await b.get('/public');
      expect(after.body).toEqual({ user: null });
      expect(after.headers.get('etag')).toMatch(/^W\/"/);
    });
  });

  describe('with noStore: false', () => {
    const s = startForBlock(() => start({ noStore: false }));

    it('leaves connected answers their ETag (the application decides how they are cached)', async () => {
      const b = new Browser(s.t.url);
      await b.post('/login', { user: 'rita' });
      const me = await b.get('/me');
      expect(me.body).toEqual({ user: 'rita' });
      expect(me.headers.get('cache-control')).toBeNull();
      const etag = me.headers.get('etag');
      expect(etag).toMatch(/^W\/"/);
      expect((await revalidate(b, '/me', etag!)).status).toBe(304);
    });
  });

  describe('when the application changes the setting after the start', () => {
    const s = startForBlock(() => start());

    it('follows it, off and on again, and still sends none with a no-store answer', async () => {
      const express = s.t.app.getHttpAdapter().getInstance() as { set(setting: string, value: unknown): void };
      const b = new Browser(s.t.url);
      try {
        express.set('etag', false);
        expect((await b.get('/public')).headers.get('etag')).toBeNull();
        express.set('etag', 'strong');
        expect((await b.get('/public')).headers.get('etag')).toMatch(/^"/);
        await b.post('/login', { user: 'tess' });
        const me = await b.get('/me');
        expect(me.body).toEqual({ user: 'tess' });
        expect(me.headers.get('etag')).toBeNull();
      } finally {
        express.set('etag', 'weak');
      }
    });
  });

  describe('when the application turned ETags off', () => {
    const s = startForBlock(() =>
      start({}, (app) => (app.getHttpAdapter().getInstance() as { set(setting: string, value: unknown): void }).set('etag', false)),
    );

    it('sends none, connected or not', async () => {
      const b = new Browser(s.t.url);
      expect((await b.get('/public')).headers.get('etag')).toBeNull();
      await b.post('/login', { user: 'sara' });
      const me = await b.get('/me');
      expect(me.body).toEqual({ user: 'sara' });
      expect(me.headers.get('etag')).toBeNull();
    });
  });
});
