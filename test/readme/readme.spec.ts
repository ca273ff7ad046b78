import { jest } from '@jest/globals';
import { Controller, Get } from '@nestjs/common';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Connected, CurrentUser } from '../../lib/index.js';
import { ADAPTERS, startApp, type AdapterName, type TestApp } from '../support/app.js';
import { Browser } from '../support/browser.js';
import { compileForNode, serveRecipe, type RecipeServer } from '../support/recipe-process.js';
import { AccountController } from './password-change.js';
import { PassportLoginModule } from './passport-login.js';
import { AppModule, AuthController, UsersModule } from './quick-start.js';
import { RememberMeController } from './remember-me.js';

const root = process.cwd();

/** The README's code blocks that are files of this folder: `<!-- test/readme/x.ts -->` right before a ts block. */
async function readmeBlocks(): Promise<Array<{ file: string; block: string }>> {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const found = [...readme.matchAll(/<!-- (test\/readme\/[\w-]+\.ts) -->\n```ts\n([\s\S]*?)```\n/g)];
  return found.map((match) => ({ file: match[1]!, block: match[2]! }));
}

@Controller()
class MeController {
  @Connected()
  @Get('me')
  me(@CurrentUser() userId: string) {
    return { userId };
  }
}

describe("the README's code", () => {
  it('shows the quick start and each recipe exactly as the files these tests run', async () => {
    const blocks = await readmeBlocks();
    expect(blocks.map((block) => block.file).sort()).toEqual([
      'test/readme/login-rate-limit.ts',
      'test/readme/passport-login.ts',
      'test/readme/password-change.ts',
      'test/readme/quick-start.ts',
      'test/readme/remember-me.ts',
    ]);
    for (const { file, block } of blocks) expect({ file, block }).toEqual({ file, block: await readFile(join(root, file), 'utf8') });
  });
});

describe.each(ADAPTERS)('the quick start on %s', (adapter: AdapterName) => {
  let t: TestApp;
  beforeAll(async () => {
    process.env['SESSION_SECRET'] = 'a-quick-start-secret-that-is-long-enough-0123';
    t = await startApp({ adapter, imports: [AppModule], standalone: true });
  });
  afterAll(() => t.close());

  it('logs in with the right password only, guards /me and /admin by the injected users service, logs out', async () => {
    const browser = new Browser(t.url);
    const wrong = await browser.post('/login', { user: 'alice', password: 'nope' });
    expect({ status: wrong.status, cookies: wrong.setCookies }).toEqual({ status: 401, cookies: [] });
    expect((await browser.get('/me')).status).toBe(401);
    expect((await browser.post('/login', { user: 'alice', password: 'alice-password' })).status).toBe(201);
    expect((await browser.get('/me')).body).toEqual({ userId: 'alice', cart: [] });
    expect((await browser.get('/admin')).body).toEqual({ admin: 'alice' });
    expect((await browser.post('/logout')).status).toBe(201);
    expect((await browser.get('/me')).status).toBe(401);
  });
});

// @nestjs/passport's AuthGuard runs Passport's Express middleware: the recipe is for Express.
describe('the Passport recipe on express', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ adapter: 'express', imports: [PassportLoginModule], controllers: [MeController] });
  });
  afterAll(() => t.close());

  it('logs in through AuthGuard("local") then connect(): the user is known on later requests, without Passport sessions', async () => {
    const browser = new Browser(t.url);
    const wrong = await browser.post('/login', { user: 'alice', password: 'nope' });
    expect({ status: wrong.status, cookies: wrong.setCookies }).toEqual({ status: 401, cookies: [] });
    expect((await browser.post('/login', { user: 'alice', password: 'alice-password' })).status).toBe(201);
    expect((await browser.get('/me')).body).toEqual({ userId: 'alice' });
  });
});

describe.each(ADAPTERS)('the "remember me" recipe on %s', (adapter: AdapterName) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ adapter, controllers: [RememberMeController, MeController], policy: { absoluteTimeout: 7 * 24 * 3600 } });
  });
  afterAll(() => t.close());

  it('gives a persistent cookie when ticked and a browser-session cookie when not', async () => {
    const remembered = await new Browser(t.url).post('/login', { user: 'ann', remember: true });
    const forgotten = await new Browser(t.url).post('/login', { user: 'bob' });
    expect(remembered.setCookies.map((cookie) => cookie.attributes['max-age'])).toEqual([String(7 * 24 * 3600)]);
    expect(forgotten.setCookies.map((cookie) => cookie.attributes['max-age'])).toEqual([undefined]);
  });
});

describe.each(ADAPTERS)('the password change recipe on %s', (adapter: AdapterName) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ adapter, imports: [UsersModule], controllers: [AuthController, AccountController] });
  });
  afterAll(() => t.close());
  afterEach(() => jest.restoreAllMocks());

  it('changes the password of a fresh login and ends the other devices only', async () => {
    const [laptop, phone] = [new Browser(t.url), new Browser(t.url)];
    for (const device of [laptop, phone])
      expect((await device.post('/login', { user: 'alice', password: 'alice-password' })).status).toBe(201);
    const changed = await laptop.post('/account/password', { password: 'new-password' });
    expect({ status: changed.status, body: changed.body }).toEqual({ status: 201, body: { closed: 1 } });
    expect((await phone.get('/me')).status).toBe(401);
    expect((await laptop.get('/me')).body).toEqual({ userId: 'alice', cart: [] });
    const again = new Browser(t.url);
    expect((await again.post('/login', { user: 'alice', password: 'new-password' })).status).toBe(201);
    for (const device of [laptop, again]) expect((await device.post('/logout')).status).toBe(201);
  });

  it('asks a login older than 5 minutes for the password again, refuses a wrong one, then changes it', async () => {
    const [laptop, phone] = [new Browser(t.url), new Browser(t.url)];
    for (const device of [laptop, phone])
      expect((await device.post('/login', { user: 'alice', password: 'new-password' })).status).toBe(201);
    const later = Date.now() + 301_000;
    jest.spyOn(Date, 'now').mockImplementation(() => later);

    const stale = await laptop.post('/account/password', { password: 'newer-password' });
    expect({ status: stale.status, code: stale.body.code }).toEqual({ status: 401, code: 'reauthenticate' });
    const wrong = await laptop.post('/account/reauthenticate', { password: 'alice-password' });
    expect({ status: wrong.status, cookies: wrong.setCookies }).toEqual({ status: 401, cookies: [] });
    expect((await laptop.get('/me')).status).toBe(200);
    const proved = await laptop.post('/account/reauthenticate', { password: 'new-password' });
    expect({ status: proved.status, cookies: proved.setCookies.map((cookie) => cookie.name) }).toEqual({ status: 201, cookies: ['sid'] });
    const changed = await laptop.post('/account/password', { password: 'newer-password' });
    expect({ status: changed.status, body: changed.body }).toEqual({ status: 201, body: { closed: 1 } });
    expect((await phone.get('/me')).status).toBe(401);
    expect((await laptop.get('/me')).status).toBe(200);
  });
});

// @nestjs/throttler is CommonJS that requires the ESM-only Nest 12: Node loads it (require of ESM), Jest's module
// loader does not on every supported line. The recipe runs in a child Node process, compiled from these files.
describe.each(ADAPTERS)('the login rate limit recipe on %s', (adapter: AdapterName) => {
  const out = join(root, '.build', `recipe-check-${adapter}`);
  let server: RecipeServer;
  beforeAll(async () => {
    await compileForNode(out, ['test/readme/quick-start.ts', 'test/readme/login-rate-limit.ts']);
    server = await serveRecipe(out, 'test/readme/login-rate-limit.ts', 'LoginRateLimitModule', adapter);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await rm(out, { recursive: true, force: true });
  });

  it('answers five attempts a minute from one address, then 429 without checking the password or logging in', async () => {
    const browser = new Browser(server.url);
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 4; attempt++)
      statuses.push((await browser.post('/login', { user: 'alice', password: 'guess' })).status);
    const right = await browser.post('/login', { user: 'alice', password: 'alice-password' });
    expect({ statuses, right: right.status }).toEqual({ statuses: [401, 401, 401, 401], right: 201 });
    const sixth = await new Browser(server.url).post('/login', { user: 'alice', password: 'alice-password' });
    expect({ status: sixth.status, message: sixth.body.message, cookies: sixth.setCookies }).toEqual({
      status: 429,
      message: 'ThrottlerException: Too Many Requests',
      cookies: [],
    });
    expect(sixth.headers.get('retry-after')).toMatch(/^\d+$/);
  });
});
