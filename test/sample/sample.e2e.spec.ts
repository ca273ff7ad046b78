import { AppModule } from '../../sample/app.module.js';
import { configureApp } from '../../sample/configure-app.js';
import { openSocket, Refused } from '../support/sockets.js';
import { ADAPTERS, startApp, type TestApp } from '../support/app.js';
import { Browser, type Reply } from '../support/browser.js';

/** A POST or DELETE as the pages send it: with the session's CSRF token (the sample runs with csrf: { token: true }). */
async function send(b: Browser, method: 'POST' | 'DELETE', path: string, body: unknown = {}): Promise<Reply> {
  const token = (await b.get('/api/csrf')).text;
  return b.request(method, path, { body, headers: { 'x-csrf-token': token } });
}
const post = (b: Browser, path: string, body?: unknown) => send(b, 'POST', path, body);

// The sample app as the README runs it, walked through like a user would, on both adapters.
describe.each(ADAPTERS)('sample app on %s', (adapter) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ adapter, imports: [AppModule], standalone: true, configure: configureApp });
  });
  afterAll(() => t.close());

  it('keeps a cart from before login, through login and logout', async () => {
    const b = new Browser(t.url);
    expect((await post(b, '/api/cart', { item: 'tea' })).body).toEqual({ items: ['tea'] });
    const login = await post(b, '/api/login', { user: 'bob', password: 'bob-password' });
    expect(login.status).toBe(200);
    expect((await b.get('/api/cart')).body).toEqual({ items: ['tea'] });
    expect((await b.get('/api/profile')).body).toMatchObject({ user: 'bob', visitsThisLogin: 1 });
    expect((await b.get('/api/profile')).body).toMatchObject({ user: 'bob', visitsThisLogin: 2 });
    expect((await post(b, '/api/logout')).status).toBe(200);
    expect((await b.get('/api/profile')).status).toBe(401);
    expect((await b.get('/api/cart')).body).toEqual({ items: ['tea'] });
  });

  it('wants the CSRF token on every POST and DELETE of a browser that has a session cookie', async () => {
    const b = new Browser(t.url);
    expect((await b.post('/api/cart', { item: 'tea' })).status).toBe(200);
    const refused = await b.post('/api/login', { user: 'bob', password: 'bob-password' });
    expect(refused.body).toMatchObject({ statusCode: 403, code: 'csrf' });
    expect(refused.setCookies).toEqual([]);
    const login = await post(b, '/api/login', { user: 'bob', password: 'bob-password' });
    expect(login.status).toBe(200);
    expect(
      (await b.request('DELETE', '/api/sessions/x', { headers: { 'x-csrf-token': (login.body as { csrfToken: string }).csrfToken } })).body,
    ).toEqual({
      revoked: false,
    });
    expect((await b.post('/api/logout')).status).toBe(403);
    expect((await b.get('/api/profile')).status).toBe(200);
  });

  it('serves HTML pages: private ones send a stranger to the login page, the admin page is a 403 page for staff', async () => {
    const b = new Browser(t.url);
    const login = await b.get('/login');
    expect(login.headers.get('content-type')).toBe('text/html; charset=utf-8');
    for (const user of ['alice', 'bob', 'carol', 'mallory']) expect(login.text).toContain(`data-fill-user="${user}"`);
    for (const path of ['/profile', '/sessions', '/account/password', '/admin']) {
      const page = await b.get(path);
      expect({ status: page.status, location: page.headers.get('location') }).toEqual({
        status: 303,
        location: `/login?next=${encodeURIComponent(path)}`,
      });
    }
    await post(b, '/api/login', { user: 'bob', password: 'bob-password' });
    const admin = await b.get('/admin');
    expect(admin.status).toBe(403);
    expect(admin.text).toContain('<h1>Not for you</h1>');
    expect(admin.headers.get('cache-control')).toBe('no-store');
    const profile = await b.get('/profile');
    expect(profile.text).toContain('<dd id="profile-user">bob</dd>');
    expect(profile.text).toMatch(/<meta name="csrf-token" content="[\w-]+"/);
  });

  it('escapes what the user typed: a cart item is text on the page, never markup', async () => {
    const b = new Browser(t.url);
    await post(b, '/api/cart', { item: '<img src=x onerror="alert(1)">' });
    const shop = await b.get('/');
    expect(shop.text).toContain('<li>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;</li>');
    expect(shop.text).not.toContain('<img src=x');
  });

  it('refuses a wrong password without a cookie', async () => {
    const b = new Browser(t.url);
    const login = await post(b, '/api/login', { user: 'bob', password: 'nope' });
    expect(login.status).toBe(401);
    expect(login.setCookies).toEqual([]);
  });

  it('lets admins in, keeps staff and banned admins out', async () => {
    const alice = new Browser(t.url);
    await post(alice, '/api/login', { user: 'alice', password: 'alice-password' });
    expect((await alice.get('/api/admin')).status).toBe(200);
    const bob = new Browser(t.url);
    await post(bob, '/api/login', { user: 'bob', password: 'bob-password' });
    expect((await bob.get('/api/admin')).body).toMatchObject({ statusCode: 403, code: 'forbidden' });
    const mallory = new Browser(t.url);
    await post(mallory, '/api/login', { user: 'mallory', password: 'mallory-password' });
    expect((await mallory.get('/api/admin')).status).toBe(403);
  });

  it('lists sessions, revokes one, and logs out everywhere', async () => {
    const laptop = new Browser(t.url);
    const phone = new Browser(t.url);
    const tablet = new Browser(t.url);
    for (const device of [laptop, phone, tablet]) {
      expect((await post(device, '/api/login', { user: 'alice', password: 'alice-password' })).status).toBe(200);
    }
    const listed = (await laptop.get('/api/sessions')).body as Array<{ handle: string; current: boolean }>;
    expect(listed.filter((s) => s.current)).toHaveLength(1);
    const phoneHandle = ((await phone.get('/api/sessions')).body as Array<{ handle: string; current: boolean }>).find(
      (s) => s.current,
    )!.handle;
    expect((await send(laptop, 'DELETE', `/api/sessions/${phoneHandle}`)).body).toEqual({ revoked: true });
    expect((await phone.get('/api/profile')).status).toBe(401);
    expect((await tablet.get('/api/profile')).status).toBe(200);
    const everywhere = await post(laptop, '/api/logout-everywhere');
    expect(everywhere.status).toBe(200);
    expect((everywhere.body as { closed: number }).closed).toBeGreaterThanOrEqual(2);
    expect((await laptop.get('/api/profile')).status).toBe(401);
    expect((await tablet.get('/api/profile')).status).toBe(401);
  });

  it('does not let a user revoke somebody else’s session', async () => {
    const alice = new Browser(t.url);
    await post(alice, '/api/login', { user: 'alice', password: 'alice-password' });
    const bob = new Browser(t.url);
    await post(bob, '/api/login', { user: 'bob', password: 'bob-password' });
    const bobHandle = ((await bob.get('/api/sessions')).body as Array<{ handle: string }>)[0]!.handle;
    expect((await send(alice, 'DELETE', `/api/sessions/${bobHandle}`)).body).toEqual({ revoked: false });
    expect((await bob.get('/api/profile')).status).toBe(200);
  });

  it('serves the live channel to connected users and drops every tab on logout everywhere', async () => {
    await expect(openSocket('socket.io', t.url)).rejects.toBeInstanceOf(Refused);
    const laptop = new Browser(t.url);
    const phone = new Browser(t.url);
    await post(laptop, '/api/login', { user: 'bob', password: 'bob-password' });
    await post(phone, '/api/login', { user: 'bob', password: 'bob-password' });
    const tab1 = await openSocket('socket.io', t.url, { cookie: laptop.cookieHeader() });
    const tab2 = await openSocket('socket.io', t.url, { cookie: phone.cookieHeader() });
    expect((await tab1.request('whoami')).data).toEqual({ user: 'bob' });
    expect((await tab1.request('say', 'hello')).data).toEqual({ from: 'bob', text: 'hello' });
    expect((await tab2.next('line')).data).toEqual({ from: 'bob', text: 'hello' });
    expect((await post(laptop, '/api/logout-everywhere')).status).toBe(200);
    expect((await tab1.ended).reason).toBe('session_closed');
    expect((await tab2.ended).reason).toBe('session_closed');
  });

  it('refuses the live channel to a banned user message by message', async () => {
    const mallory = new Browser(t.url);
    await post(mallory, '/api/login', { user: 'mallory', password: 'mallory-password' });
    const tab = await openSocket('socket.io', t.url, { cookie: mallory.cookieHeader() });
    expect((await tab.request('say', 'hi')).data).toMatchObject({ code: 'forbidden' });
    expect((await tab.request('whoami')).data).toEqual({ user: 'mallory' });
    await tab.close();
  });
});
