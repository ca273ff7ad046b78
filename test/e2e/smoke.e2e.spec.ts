import { Controller, Get } from '@nestjs/common';
import { Connected, CurrentUser, SessionData, SessionKey, SessionService } from '../../lib/index.js';
import { ADAPTERS, startApp, type TestApp } from '../support/app.js';
import { LoginController } from '../support/auth.controller.js';
import { Browser } from '../support/browser.js';

const NOTE = new SessionKey<string>('smoke.note', { persist: true });

/** GET /me (@Connected) → {user, note}: the note as it was, then set to 'hello'. */
@Controller()
class SmokeController {
  constructor(private readonly sessions: SessionService) {}

  @Connected()
  @Get('me')
  async me(@CurrentUser() user: string, @SessionData(NOTE) note: string | undefined) {
    await this.sessions.set(NOTE, 'hello');
    return { user, note: note ?? null };
  }
}

describe.each(ADAPTERS)('smoke on %s', (adapter) => {
  let t: TestApp;
  beforeAll(async () => {
    // LoginController: POST /login {user}, POST /logout, GET /public → {user | null}.
    t = await startApp({ adapter, controllers: [LoginController, SmokeController] });
  });
  afterAll(() => t.close());

  it('logs in and reads the user', async () => {
    const b = new Browser(t.url);
    expect((await b.get('/public')).body).toEqual({ user: null });
    expect((await b.get('/me')).status).toBe(401);
    const login = await b.post('/login', { user: 'alice' });
    expect(login.status).toBe(201);
    expect(login.setCookies.map((c) => c.name)).toEqual(['sid']);
    expect((await b.get('/me')).body).toEqual({ user: 'alice', note: null });
    expect((await b.get('/me')).body).toEqual({ user: 'alice', note: 'hello' });
    expect((await b.get('/public')).body).toEqual({ user: 'alice' });
  });
});
