import { Controller, Get } from '@nestjs/common';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Connected, CurrentUser } from '../../lib/index.js';
import { ADAPTERS, startApp, type AdapterName, type TestApp } from '../support/app.js';
import { Browser } from '../support/browser.js';
import { PassportLoginModule } from './passport-login.js';
import { AppModule } from './quick-start.js';
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
      'test/readme/passport-login.ts',
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
