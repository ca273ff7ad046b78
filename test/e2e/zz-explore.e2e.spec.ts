import { Body, Controller, Get, Post } from '@nestjs/common';
import { Connected, SessionKey, SessionService } from '../../lib/index.js';
import { ADAPTERS, startApp, type TestApp } from '../support/app.js';
import { Browser } from '../support/browser.js';
const CART = new SessionKey<string>('explore.cart', { scope: 'browser', persist: true });
@Controller()
class C {
  constructor(private readonly s: SessionService) {}
  @Post('login') async login(@Body() b: { user: string; expire?: boolean }) { await this.s.connect(b.user, { expire: b.expire }); return { ok: true }; }
  @Post('logout') async logout() { await this.s.disconnect(); return { ok: true }; }
  @Post('cart') async cart() { await this.s.set(CART, 'x'); return { ok: true }; }
  @Connected() @Get('me') me() { return { ok: 1 }; }
}
describe.each(ADAPTERS)('explore %s', (adapter) => {
  let t: TestApp;
  beforeAll(async () => { t = await startApp({ adapter, controllers: [C], trustProxy: true, policy: { cookie: { filter: (n) => n !== 'bad' } } }); });
  afterAll(() => t.close());
  it('prints', async () => {
    const b = new Browser(t.url);
    let r = await b.post('/login', { user: 'a' });
    console.log(adapter, r.setCookies.map((c) => c.raw), r.headers.get('cache-control'));
    r = await b.post('/login', { user: 'a', expire: true });
    console.log(adapter, r.setCookies.map((c) => c.raw));
    r = await b.post('/logout');
    console.log(adapter, r.status, r.setCookies.map((c) => c.raw), r.headers.get('cache-control'));
    r = await b.post('/login', { user: 'a' }, { headers: { 'x-forwarded-proto': 'https' } });
    console.log(adapter, r.setCookies.map((c) => c.raw));
    r = await b.get('/me', { cookie: 'sid=abc; bad=1; good=2' });
    console.log(adapter, r.status, r.body, r.setCookies.map((c) => c.raw), r.headers.get('cache-control'));
  });
});
