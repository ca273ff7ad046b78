import { AppModule } from '../../sample/app.module.js';
import { configureApp } from '../../sample/configure-app.js';
import { openSocket, Refused } from '../support/sockets.js';
import { ADAPTERS, startApp, type TestApp } from '../support/app.js';
import { Browser } from '../support/browser.js';

// The sample app as the README runs it, walked through like a user would, on both adapters.
describe.each(ADAPTERS)('sample app on %s', (adapter) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ adapter, imports: [AppModule], standalone: true, configure: configureApp });
  });
  afterAll(() => t.close());

  it('keeps a cart from before login, through login and logout', async () => {
    const b = new Browser(t.url);
    expect((await b.post('/cart', { item: 'tea' })).body).toEqual({ items: ['tea'] });
    const login = await b.post('/login', { user: 'bob', password: 'bob-password' });
    expect(login.status).toBe(200);
    expect((await b.get('/cart')).body).toEqual({ items: ['tea'] });
    expect((await b.get('/profile')).body).toMatchObject({ user: 'bob', visitsThisLogin: 1 });
    expect((await b.get('/profile')).body).toMatchObject({ user: 'bob', visitsThisLogin: 2 });
    expect((await b.post('/logout')).status).toBe(200);
    expect((await b.get('/profile')).status).toBe(401);
    expect((await b.get('/cart')).body).toEqual({ items: ['tea'] });
  });

  it('refuses a wrong password without a cookie', async () => {
    const b = new Browser(t.url);
    const login = await b.post('/login', { user: 'bob', password: 'nope' });
    expect(login.status).toBe(401);
    expect(login.setCookies).toEqual([]);
  });

  it('lets admins in, keeps staff and banned admins out', async () => {
    const alice = new Browser(t.url);
    await alice.post('/login', { user: 'alice', password: 'alice-password' });
    expect((await alice.get('/admin')).status).toBe(200);
    const bob = new Browser(t.url);
    await bob.post('/login', { user: 'bob', password: 'bob-password' });
    expect((await bob.get('/admin')).body).toMatchObject({ statusCode: 403, code: 'forbidden' });
    const mallory = new Browser(t.url);
    await mallory.post('/login', { user: 'mallory', password: 'mallory-password' });
    expect((await mallory.get('/admin')).status).toBe(403);
  });

  it('lists sessions, revokes one, and logs out everywhere', async () => {
    const laptop = new Browser(t.url);
    const phone = new Browser(t.url);
    const tablet = new Browser(t.url);
    for (const device of [laptop, phone, tablet]) {
      expect((await device.post('/login', { user: 'alice', password: 'alice-password' })).status).toBe(200);
    }
    const listed = (await laptop.get('/sessions')).body as Array<{ handle: string; current: boolean }>;
    expect(listed.filter((s) => s.current)).toHaveLength(1);
    const phoneHandle = ((await phone.get('/sessions')).body as Array<{ handle: string; current: boolean }>).find((s) => s.current)!.handle;
    expect((await laptop.request('DELETE', `/sessions/${phoneHandle}`)).body).toEqual({ revoked: true });
    expect((await phone.get('/profile')).status).toBe(401);
    expect((await tablet.get('/profile')).status).toBe(200);
    const everywhere = await laptop.post('/logout-everywhere');
    expect(everywhere.status).toBe(200);
    expect((everywhere.body as { closed: number }).closed).toBeGreaterThanOrEqual(2);
    expect((await laptop.get('/profile')).status).toBe(401);
    expect((await tablet.get('/profile')).status).toBe(401);
  });

  it('does not let a user revoke somebody else’s session', async () => {
    const alice = new Browser(t.url);
    await alice.post('/login', { user: 'alice', password: 'alice-password' });
    const bob = new Browser(t.url);
    await bob.post('/login', { user: 'bob', password: 'bob-password' });
    const bobHandle = ((await bob.get('/sessions')).body as Array<{ handle: string }>)[0]!.handle;
    expect((await alice.request('DELETE', `/sessions/${bobHandle}`)).body).toEqual({ revoked: false });
    expect((await bob.get('/profile')).status).toBe(200);
  });

  it('serves the live channel to connected users and drops every tab on logout everywhere', async () => {
    await expect(openSocket('socket.io', t.url)).rejects.toBeInstanceOf(Refused);
    const laptop = new Browser(t.url);
    const phone = new Browser(t.url);
    await laptop.post('/login', { user: 'bob', password: 'bob-password' });
    await phone.post('/login', { user: 'bob', password: 'bob-password' });
    const tab1 = await openSocket('socket.io', t.url, { cookie: laptop.cookieHeader() });
    const tab2 = await openSocket('socket.io', t.url, { cookie: phone.cookieHeader() });
    expect((await tab1.request('whoami')).data).toEqual({ user: 'bob' });
    expect((await tab1.request('say', 'hello')).data).toEqual({ from: 'bob', text: 'hello' });
    expect((await tab2.next('line')).data).toEqual({ from: 'bob', text: 'hello' });
    expect((await laptop.post('/logout-everywhere')).status).toBe(200);
    expect((await tab1.ended).reason).toBe('session_closed');
    expect((await tab2.ended).reason).toBe('session_closed');
  });

  it('refuses the live channel to a banned user message by message', async () => {
    const mallory = new Browser(t.url);
    await mallory.post('/login', { user: 'mallory', password: 'mallory-password' });
    const tab = await openSocket('socket.io', t.url, { cookie: mallory.cookieHeader() });
    expect((await tab.request('say', 'hi')).data).toMatchObject({ code: 'forbidden' });
    expect((await tab.request('whoami')).data).toEqual({ user: 'mallory' });
    await tab.close();
  });
});
