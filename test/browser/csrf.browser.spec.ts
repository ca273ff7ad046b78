import { Controller, Get, Header, Query } from '@nestjs/common';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser as Chromium, BrowserContext, Page, Response } from 'playwright-core';
import { SessionService, type SessionPolicy } from '../../lib/index.js';
import { ADAPTERS, startApp, type AdapterName, type TestApp } from '../support/app.js';
import { Browser } from '../support/browser.js';
import { launchChromium } from '../support/chromium.js';
import { CSRF_CONTROLLERS, CSRF_PROVIDERS } from '../support/csrf-routes.js';

/**
 * The two classic CSRF attacks, in a real Chromium, against a real server: pages of `app.example.test` (the app),
 * of its sibling subdomain `evil.example.test` (same site: SameSite=Lax cookies go with its POSTs) and of
 * `www.attacker.test` (another site) are served on loopback (test/support/chromium.ts maps the names). Each attack
 * is also run against the app with `csrf: false`, where it must succeed: that is what shows the defence, and not
 * the browser, stopped it.
 */

/** Text as HTML attribute content. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The victim's pages on the app: a login form (a same-origin form POST) and who the browser is. */
@Controller()
class PagesController {
  constructor(private readonly sessions: SessionService) {}

  @Get('login-page')
  @Header('Content-Type', 'text/html; charset=utf-8')
  loginPage(@Query('user') user: string) {
    return `<form method="POST" action="/login"><input name="user" value="${escapeHtml(user)}"><button>Log in</button></form>`;
  }

  @Get('profile')
  profile() {
    return { user: this.sessions.currentUserId() ?? null };
  }
}

/** The attacker's server: `GET /attack?action=URL&name=value…` is a page that auto-submits a POST form to `action`. */
function startAttacker(): Promise<Server> {
  const server = createServer((request, response) => {
    const query = new URL(request.url ?? '/', 'http://attacker').searchParams;
    const fields = [...query].filter(([name]) => name !== 'action');
    const inputs = fields.map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`).join('');
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(
      `<form method="POST" action="${escapeHtml(query.get('action') ?? '')}">${inputs}</form><script>document.forms[0].submit()</script>`,
    );
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** What the app answered to a forged POST, and what the browser sent with it. */
interface Forged {
  status: number;
  body: unknown;
  origin: string | undefined;
  cookie: string | undefined;
}

let chromium: Chromium;
let attacker: Server;
beforeAll(async () => {
  chromium = await launchChromium();
  attacker = await startAttacker();
});
afterAll(async () => {
  await chromium?.close();
  await new Promise((resolve) => attacker?.close(resolve));
});

describe.each(ADAPTERS)('CSRF attacks in Chromium on %s', (adapter: AdapterName) => {
  let counter = 0;
  const userName = (what: string) => `browser-${adapter}-${what}-${++counter}`;
  const attackerPort = () => (attacker.address() as AddressInfo).port;

  function appForBlock(policy: Partial<SessionPolicy>) {
    const s = {} as { t: TestApp; origin: string };
    beforeAll(async () => {
      s.t = await startApp({ adapter, policy, controllers: [...CSRF_CONTROLLERS, PagesController], providers: CSRF_PROVIDERS });
      s.origin = `http://app.example.test:${new URL(s.t.url).port}`;
    });
    afterAll(() => s.t?.close());
    return s;
  }

  let context: BrowserContext;
  let page: Page;
  beforeEach(async () => {
    context = await chromium.newContext();
    page = await context.newPage();
  });
  afterEach(() => context?.close());

  /** The victim logs in through the app's own form (a same-origin POST, which the defence lets through). */
  async function logIn(origin: string, user: string): Promise<void> {
    await page.goto(`${origin}/login-page?user=${user}`);
    const [answer] = await Promise.all([page.waitForResponse(`${origin}/login`), page.click('button')]);
    expect(answer.status()).toBe(201);
    expect(await profile(origin)).toEqual({ user });
  }

  async function profile(origin: string): Promise<unknown> {
    return ((await page.goto(`${origin}/profile`)) as Response).json();
  }

  /** The victim visits the attacker's page on `host`, which auto-submits a form to the app's `path`. */
  async function visitAttack(host: string, target: string, fields: Record<string, string> = {}): Promise<Forged> {
    const answered = page.waitForResponse((response) => response.url() === target && response.request().method() === 'POST');
    await page.goto(`http://${host}:${attackerPort()}/attack?${new URLSearchParams({ action: target, ...fields }).toString()}`);
    const response = await answered;
    const sent = await response.request().allHeaders();
    return { status: response.status(), body: await response.json(), origin: sent['origin'], cookie: sent['cookie'] };
  }

  describe('with the default policy (CSRF defence on)', () => {
    const s = appForBlock({});

    it('attack 1: a sibling subdomain auto-submits "log out everywhere" → 403 csrf, every session intact', async () => {
      const user = userName('victim');
      await logIn(s.origin, user);
      const laptop = new Browser(s.t.url);
      await laptop.post('/login', { user });
      expect(await s.t.app.get(SessionService).listSessions(user)).toHaveLength(2);

      const forged = await visitAttack('evil.example.test', `${s.origin}/logout-everywhere`);
      expect(forged).toEqual({
        status: 403,
        body: { statusCode: 403, error: 'Forbidden', code: 'csrf', message: 'Cross-origin request refused (CSRF)' },
        origin: `http://evil.example.test:${attackerPort()}`,
        // Same site: the SameSite=Lax session cookie went with the forged POST; only the defence stopped it.
        cookie: expect.stringMatching(/(^|; )sid=/),
      });
      expect(await s.t.app.get(SessionService).listSessions(user)).toHaveLength(2);
      expect(await profile(s.origin)).toEqual({ user });
      expect((await laptop.get('/profile')).body).toEqual({ user });
    });

    it('attack 2: another site auto-submits a login as mallory → 403 csrf, the victim is still the victim', async () => {
      const user = userName('victim');
      const mallory = userName('mallory');
      await logIn(s.origin, user);
      const forged = await visitAttack('www.attacker.test', `${s.origin}/login`, { user: mallory });
      expect(forged).toEqual({
        status: 403,
        body: { statusCode: 403, error: 'Forbidden', code: 'csrf', message: 'Cross-origin request refused (CSRF)' },
        origin: `http://www.attacker.test:${attackerPort()}`,
        cookie: undefined,
      });
      expect(await profile(s.origin)).toEqual({ user });
      expect(await s.t.app.get(SessionService).listSessions(mallory)).toEqual([]);
    });

    it('attack 2 on a browser with no session: refused, and the browser stays anonymous with no cookie', async () => {
      const mallory = userName('mallory');
      const forged = await visitAttack('www.attacker.test', `${s.origin}/login`, { user: mallory });
      expect(forged.status).toBe(403);
      expect(await profile(s.origin)).toEqual({ user: null });
      expect(await context.cookies()).toEqual([]);
      expect(await s.t.app.get(SessionService).listSessions(mallory)).toEqual([]);
    });
  });

  describe('the control: the same attacks with csrf: false succeed (they are real attacks)', () => {
    const s = appForBlock({ csrf: false });

    it('attack 1 logs the victim out everywhere', async () => {
      const user = userName('victim');
      await logIn(s.origin, user);
      await new Browser(s.t.url).post('/login', { user });
      const forged = await visitAttack('evil.example.test', `${s.origin}/logout-everywhere`);
      expect({ status: forged.status, body: forged.body }).toEqual({ status: 201, body: { closed: 2 } });
      expect(await s.t.app.get(SessionService).listSessions(user)).toEqual([]);
      expect(await profile(s.origin)).toEqual({ user: null });
    });

    it('attack 2 logs the victim in as mallory', async () => {
      const user = userName('victim');
      const mallory = userName('mallory');
      await logIn(s.origin, user);
      const forged = await visitAttack('www.attacker.test', `${s.origin}/login`, { user: mallory });
      expect(forged.status).toBe(201);
      expect(await profile(s.origin)).toEqual({ user: mallory });
    });
  });
});
