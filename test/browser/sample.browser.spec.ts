import { jest } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core';
import { FRESH_SECONDS } from '../../sample/api/account.controller.js';
import { AppModule } from '../../sample/app.module.js';
import { configureApp } from '../../sample/configure-app.js';
import { ADAPTERS, startApp, type AdapterName, type TestApp } from '../support/app.js';
import { launchChromium } from '../support/chromium.js';

/**
 * The sample app clicked through in a real Chromium (Debian's, through playwright-core), as the README's walkthrough
 * tells a person to: two browser contexts are two devices of one user, a laptop and a phone. Every page visited is
 * saved as a screenshot under test/browser/screenshots/ (git-ignored; docs/images/ has two of them).
 */
const SCREENSHOTS = new URL('./screenshots/', import.meta.url);
const LAPTOP_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36';
const PHONE_AGENT =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1';
/** A bound for things that happen on their own (a push from the server): only "nothing hangs". */
const WAIT = { timeout: 10_000 };

let chromium: Chromium;
beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  // The back-forward cache on, as in a user's browser: the back button may then show a page without asking the server.
  chromium = await launchChromium({ backForwardCache: true });
});
afterAll(() => chromium?.close());

describe.each(ADAPTERS)('the sample in Chromium on %s', (adapter: AdapterName) => {
  let t: TestApp;
  let contexts: BrowserContext[];
  /** Script errors of every page: a page whose script threw is a failure even if the test's checks pass. */
  let pageErrors: string[];

  beforeEach(async () => {
    t = await startApp({ adapter, imports: [AppModule], standalone: true, configure: configureApp });
    contexts = [];
    pageErrors = [];
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await Promise.all(contexts.map((context) => context.close()));
    await t?.close();
    expect(pageErrors).toEqual([]);
  });

  /** A new device: its own cookie jar, user agent and screen. */
  async function device(kind: 'laptop' | 'phone'): Promise<Page> {
    const context = await chromium.newContext(
      kind === 'laptop'
        ? { userAgent: LAPTOP_AGENT, viewport: { width: 1200, height: 760 } }
        : { userAgent: PHONE_AGENT, viewport: { width: 900, height: 760 } },
    );
    context.setDefaultTimeout(WAIT.timeout);
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(`${kind}: ${error.message}`));
    return page;
  }

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: new URL(`${adapter}-${name}.png`, SCREENSHOTS).pathname, fullPage: true });
  }

  /** Opens a page of the app; resolves its final status (after redirects). */
  async function visit(page: Page, path: string, name: string): Promise<number> {
    const response = await page.goto(t.url + path);
    await shot(page, name);
    return response?.status() ?? 0;
  }

  /** Logs in through the login page, clicking the demo user's name to fill the form, and lands on `then`. */
  async function logIn(page: Page, user: string, name: string, then = '/profile'): Promise<void> {
    if (!page.url().includes('/login')) await visit(page, '/login', `${name}-login`);
    await page.click(`[data-fill-user="${user}"]`);
    await Promise.all([page.waitForURL(t.url + then), page.click('#login-form button')]);
    await shot(page, name);
    expect(await page.textContent('#current-user')).toBe(user);
  }

  const heading = (page: Page) => page.textContent('h1');

  /** Runs `action` (a click on a form that reloads the page it is on) and waits for the new page to load. */
  async function reloadedBy(page: Page, action: () => Promise<void>): Promise<void> {
    const navigated = page.waitForEvent('framenavigated', { predicate: (frame) => frame === page.mainFrame() });
    await action();
    await navigated;
    await page.waitForLoadState();
  }

  /** The live panel is open when it says so: only then does a session's end reach the page. */
  const live = (page: Page) => page.waitForSelector('#live .live-state:text("live")', WAIT);

  it('logs in and shows the profile; the session cookie is HttpOnly, invisible to document.cookie', async () => {
    const laptop = await device('laptop');
    expect(await visit(laptop, '/profile', 'profile-anonymous')).toBe(200);
    expect(laptop.url()).toBe(`${t.url}/login?next=%2Fprofile`);
    await logIn(laptop, 'alice', 'profile');
    expect(await laptop.textContent('#profile-user')).toBe('alice');
    expect(await laptop.textContent('#profile')).toContain('admin, staff');

    const cookies = await laptop.context().cookies();
    expect(cookies.find((cookie) => cookie.name === 'sid')).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
    expect(await laptop.evaluate('document.cookie')).not.toContain('sid');
  });

  it('shows the admin page to an admin and a 403 page to a user outside the group (and to a banned admin)', async () => {
    const laptop = await device('laptop');
    expect(await visit(laptop, '/admin', 'admin-anonymous')).toBe(200);
    await logIn(laptop, 'alice', 'admin', '/admin');
    expect(await laptop.textContent('#admin-welcome')).toContain('alice');

    const phone = await device('phone');
    await logIn(phone, 'bob', 'admin-bob');
    expect(await phone.isVisible('nav a[href="/admin"]')).toBe(false);
    expect(await visit(phone, '/admin', 'admin-refused')).toBe(403);
    expect(await heading(phone)).toBe('Not for you');
    expect(await phone.isVisible('#admin-welcome')).toBe(false);

    const other = await device('laptop');
    await logIn(other, 'mallory', 'admin-mallory');
    expect(await visit(other, '/admin', 'admin-refused-banned')).toBe(403);
  });

  it('keeps the cart filled before login through the login', async () => {
    const laptop = await device('laptop');
    await visit(laptop, '/', 'shop-anonymous');
    await reloadedBy(laptop, () => laptop.click('li:has-text("Green tea") button'));
    expect(await laptop.textContent('#cart-count')).toBe('1');
    await reloadedBy(laptop, () => laptop.click('li:has-text("Oat biscuits") button'));
    expect(await laptop.textContent('#cart-count')).toBe('2');
    await shot(laptop, 'shop-cart');
    expect(await laptop.textContent('#cart')).toContain('Green tea');

    await logIn(laptop, 'bob', 'shop-login');
    await visit(laptop, '/', 'shop-after-login');
    expect(await laptop.$$eval('#cart li', (items) => items.map((item) => item.textContent))).toEqual(['Green tea', 'Oat biscuits']);
  });

  it('revoking the other device from the sessions page sends that device to the login page by itself', async () => {
    const laptop = await device('laptop');
    const phone = await device('phone');
    await logIn(laptop, 'alice', 'revoke-laptop');
    await logIn(phone, 'alice', 'revoke-phone');
    await live(phone);

    await visit(laptop, '/sessions', 'sessions');
    await live(laptop);
    const rows = laptop.locator('table.sessions tbody tr');
    expect(await rows.count()).toBe(2);
    expect(await laptop.textContent('tr.current')).toContain('Chrome on Linux');
    const other = laptop.locator('tbody tr:not(.current)');
    expect(await other.textContent()).toContain('Safari on iPhone');
    await shot(laptop, 'sessions-two-devices');

    await other.locator('button:text("Revoke")').click();
    await laptop.waitForSelector('.message:text("Session revoked.")');
    await phone.waitForURL(`${t.url}/login?ended=session_closed`, WAIT);
    await shot(phone, 'revoked-phone');
    expect(await phone.textContent('#ended')).toContain('closed from another device');
    expect(await phone.isVisible('#current-user')).toBe(false);

    await laptop.waitForSelector('#live li:has-text("another device: session ended (revoked)")', WAIT);
    await shot(laptop, 'sessions-after-revoke');
    expect(await rows.count()).toBe(1);
    await laptop.reload();
    expect(await rows.count()).toBe(1);
    expect(await visit(laptop, '/profile', 'revoke-laptop-still-in')).toBe(200);
    expect(await laptop.textContent('#profile-user')).toBe('alice');
  });

  it('"log out everywhere" sends every device to the login page', async () => {
    const laptop = await device('laptop');
    const phone = await device('phone');
    await logIn(laptop, 'bob', 'everywhere-laptop');
    await logIn(phone, 'bob', 'everywhere-phone');
    await live(phone);
    await visit(laptop, '/sessions', 'everywhere-sessions');

    await Promise.all([laptop.waitForURL(`${t.url}/login`), laptop.click('button:text("Log out everywhere")')]);
    await phone.waitForURL(`${t.url}/login?ended=session_closed`, WAIT);
    await shot(laptop, 'everywhere-laptop-after');
    await shot(phone, 'everywhere-phone-after');
    for (const page of [laptop, phone]) {
      await visit(page, '/profile', 'everywhere-profile-after');
      expect(page.url()).toBe(`${t.url}/login?next=%2Fprofile`);
    }
  });

  it('after logout, the back button shows no private page', async () => {
    const laptop = await device('laptop');
    await logIn(laptop, 'alice', 'back-login');
    await visit(laptop, '/sessions', 'back-sessions');
    await visit(laptop, '/admin', 'back-admin');
    // While logged in, back and forth: the page that comes back still gets live events.
    await Promise.all([laptop.waitForURL(`${t.url}/profile`), laptop.click('nav a[href="/profile"]')]);
    await laptop.goBack({ waitUntil: 'commit' });
    await laptop.waitForURL(`${t.url}/admin`);
    await live(laptop);
    await logIn(await device('phone'), 'alice', 'back-phone');
    await laptop.waitForSelector('#live li:has-text("another device: a new login")', WAIT);
    await Promise.all([laptop.waitForURL(`${t.url}/login`), laptop.click('header button:text("Log out")')]);

    for (const previous of ['admin', 'sessions', 'profile']) {
      // Not 'load': a page restored from the back-forward cache fires none.
      await laptop.goBack({ waitUntil: 'commit' });
      await laptop.waitForURL(`${t.url}/login?next=%2F${previous}`);
      await shot(laptop, `back-${previous}`);
      expect(laptop.url()).toBe(`${t.url}/login?next=%2F${previous}`);
      expect(await heading(laptop)).toBe('Log in');
      expect(await laptop.content()).not.toContain('alice</b>');
    }
  });

  it('the password change asks for the password again, then ends the other device', async () => {
    const laptop = await device('laptop');
    const phone = await device('phone');
    await logIn(laptop, 'bob', 'password-laptop');
    await logIn(phone, 'bob', 'password-phone');
    await live(phone);
    await visit(laptop, '/account/password', 'password');

    // The server runs in this process: its clock moves past the freshness window instead of the test waiting it out.
    const now = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => now() + (FRESH_SECONDS + 5) * 1000);

    await laptop.fill('#password-form input', 'a new password');
    await laptop.click('#password-form button');
    await laptop.waitForSelector('#reauthenticate', { state: 'visible' });
    await shot(laptop, 'password-reauthenticate');
    expect(phone.url()).toBe(`${t.url}/profile`);

    await laptop.fill('#reauthenticate input', 'not-the-password');
    await laptop.click('#reauthenticate button');
    await laptop.waitForSelector('.message:text("Wrong password")');
    expect(await laptop.isVisible('#reauthenticate')).toBe(true);

    await laptop.fill('#reauthenticate input', 'bob-password');
    await laptop.click('#reauthenticate button');
    await laptop.waitForSelector('.message:text("Password changed")');
    await shot(laptop, 'password-changed');
    expect(await laptop.textContent('.message')).toBe('Password changed. Sessions ended on other devices: 1.');
    expect(await laptop.isVisible('#reauthenticate')).toBe(false);

    await phone.waitForURL(`${t.url}/login?ended=session_closed`, WAIT);
    await shot(phone, 'password-phone-ended');
    expect(await visit(laptop, '/profile', 'password-laptop-still-in')).toBe(200);
    expect(await laptop.textContent('#profile-user')).toBe('bob');

    // The old password no longer opens a session; the new one does.
    await phone.fill('#login-form [name=user]', 'bob');
    await phone.fill('#login-form [name=password]', 'bob-password');
    await phone.click('#login-form button');
    await phone.waitForSelector('.message:text("Unknown user or wrong password")');
    await phone.fill('#login-form [name=password]', 'a new password');
    await Promise.all([phone.waitForURL(`${t.url}/profile`), phone.click('#login-form button')]);
  });

  it('an admin acts as a user under a banner; the user sees it; Stop returns to the admin', async () => {
    const phone = await device('phone');
    await logIn(phone, 'bob', 'act-bob-phone');
    await live(phone);
    const laptop = await device('laptop');
    await logIn(laptop, 'alice', 'act-admin-login');
    await visit(laptop, '/admin', 'act-admin');
    expect(await laptop.textContent('tr[data-user="mallory"]')).toContain('not for admins');

    await Promise.all([laptop.waitForURL(`${t.url}/profile`), laptop.click('tr[data-user="bob"] button')]);
    await shot(laptop, 'act-as-bob');
    expect(await laptop.textContent('#impersonation-banner')).toContain('Acting as bob (signed in as alice)');
    expect(await laptop.textContent('#profile-user')).toBe('bob');
    await phone.waitForSelector('#live li:has-text("another device: a new login (by alice)")', WAIT);
    await visit(phone, '/sessions', 'act-bob-sessions');
    expect(await phone.textContent('.actor')).toBe('alice acting as you');

    // As bob: no admin page, and no password change (an impersonated session is never fresh).
    expect(await visit(laptop, '/admin', 'act-admin-refused')).toBe(403);
    expect(await laptop.isVisible('#impersonation-banner')).toBe(true);
    await visit(laptop, '/account/password', 'act-password');
    await laptop.fill('#password-form input', 'an admin chose this');
    await laptop.click('#password-form button');
    await laptop.fill('#reauthenticate input', 'bob-password');
    await laptop.click('#reauthenticate button');
    await laptop.waitForSelector('.message:text("An impersonated session cannot be reauthenticated")');
    await shot(laptop, 'act-password-refused');

    await Promise.all([laptop.waitForURL(`${t.url}/admin`), laptop.click('#impersonation-banner button')]);
    await shot(laptop, 'act-stopped');
    expect(await laptop.isVisible('#impersonation-banner')).toBe(false);
    expect(await laptop.textContent('#current-user')).toBe('alice');
    await phone.waitForSelector('#live li:has-text("session ended (impersonation-ended) (by alice)")', WAIT);
    expect(phone.url()).toBe(`${t.url}/sessions`);
    expect(await visit(phone, '/profile', 'act-bob-still-in')).toBe(200);
  });
});
