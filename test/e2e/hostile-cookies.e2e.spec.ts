import type { MemoryStore } from '../../lib/index.js';
import { ADAPTERS, SECRET, startWithStore, type TestApp } from '../support/app.js';
import { expectAtMostExpiry, expectNoSetCookie, idOf, randomId, rawGet, signWith, UNAUTHENTICATED } from '../support/auth-helpers.js';
import { AuthController } from '../support/auth.controller.js';
import { Browser } from '../support/browser.js';

const OTHER_SECRET = 'another-secret-that-is-long-enough-abcdefghij';

/** Flips one character of a base64url string at `index`, keeping it base64url. */
function flip(text: string, index: number): string {
  const c = text[index] === 'A' ? 'B' : 'A';
  return text.slice(0, index) + c + text.slice(index + 1);
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The value with its last character's lowest unused bit flipped: another spelling of the same 32 tag bytes. */
function respell(value: string): string {
  return value.slice(0, -1) + BASE64URL[BASE64URL.indexOf(value[value.length - 1]) ^ 1];
}

describe.each(ADAPTERS)('hostile cookies on %s', (adapter) => {
  let t: TestApp;
  let store: MemoryStore;
  /** The cookie value of a live session of 'victim', logged in before the attacks. */
  let valid: string;

  beforeAll(async () => {
    // POST /login {user}, GET /me (@Connected), GET /public.
    ({ t, store } = await startWithStore({ adapter, controllers: [AuthController] }));
    const b = new Browser(t.url);
    expect((await b.post('/login', { user: 'victim' })).status).toBe(201);
    valid = b.jar.get('sid')!;
  });
  afterAll(() => t.close());

  /** The live session still works on its own, and the store holds exactly it. */
  async function victimStillWorks(): Promise<void> {
    const reply = await new Browser(t.url).get('/me', { cookie: `sid=${valid}` });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ user: 'victim' });
    expectNoSetCookie(reply);
    expect(store.size).toBe(1);
  }

  const cases: Array<[string, () => string]> = [
    ['a forged tag', () => `sid=${idOf(valid)}.${randomId()}`],
    // Character 30 of the tag: within its last 16 bytes, which a cached value must match (see below for the rest).
    ['a tag with one character changed', () => `sid=${flip(valid, 44 + 30)}`],
    // The same tag bytes: the last character's two unused bits set. A verified value is cached by its characters.
    ['the tag respelled with the same bytes', () => `sid=${respell(valid)}`],
    ['an id with one character changed', () => `sid=${flip(valid, 3)}`],
    ['a truncated value', () => `sid=${valid.slice(0, -1)}`],
    ['an extended value', () => `sid=${valid}A`],
    ['the unsigned id', () => `sid=${idOf(valid)}`],
    ['the id signed with another secret', () => `sid=${signWith(OTHER_SECRET, idOf(valid))}`],
    ['an unknown id signed with the right secret', () => `sid=${signWith(SECRET)}`],
    ['a tag only', () => `sid=.${valid.split('.')[1]}`],
    ['the parts swapped', () => `sid=${valid.split('.').reverse().join('.')}`],
    ['__proto__ as a cookie name', () => '__proto__=x'],
    ['__proto__ with an object-looking value', () => '__proto__={"userId":"victim"}'],
    ['constructor as a cookie name', () => 'constructor=x'],
    ['prototype-ish names together', () => 'toString=1; hasOwnProperty=2; valueOf=3; constructor=4; __proto__=5'],
    ['__proto__ as the value', () => 'sid=__proto__'],
    ['bad percent-encoding', () => 'sid=%E0%A4%A'],
    ['percent-encoded valid-looking value', () => `sid=${encodeURIComponent(valid).replace(/\./g, '%2E')}%00`],
    ['a 4 KB value', () => `sid=${'A'.repeat(4096)}`],
    ['a 4 KB value made of the valid one', () => `sid=${valid.repeat(48).slice(0, 4096)}`],
    ['an empty value', () => 'sid='],
    ['a name without a value', () => 'sid'],
    ['quotes', () => `sid="${signWith(OTHER_SECRET)}"`],
    ['control characters', () => 'sid=a\tb'],
    ['non-ASCII bytes', () => `sid=\u00e9\u00ff${valid.slice(2)}`],
    ['a valid value wrapped in quotes', () => `sid="${valid}"x`],
    ['many cookies', () => Array.from({ length: 300 }, (_, i) => `c${i}=v${i}`).join('; ')],
    ['a header of ~8 KB', () => `junk=${'x'.repeat(8 * 1024)}`],
    ['a valid cookie and a forged one', () => `sid=${valid}; sid=${idOf(valid)}.${randomId()}`],
    ['a forged cookie and a valid one', () => `sid=${signWith(OTHER_SECRET)}; sid=${valid}`],
    ['the valid cookie twice with a forged one between', () => `sid=${valid}; other=1; sid=x; sid=${valid}`],
  ];

  it.each(cases)('%s on a connected route: 401, never 500, nothing written, the live session intact', async (_, make) => {
    const cookie = make();
    const reply = await new Browser(t.url).get('/me', { cookie });
    expect(reply.status).toBe(401);
    expect(reply.body).toEqual(UNAUTHENTICATED);
    expect(reply.text).not.toContain(valid);
    expectAtMostExpiry(reply);
    // The same cookie on a public route: anonymous, never a 500, no new session.
    const pub = await new Browser(t.url).get('/public', { cookie });
    expect(pub.status).toBe(200);
    expect(pub.body).toEqual({ user: null });
    expectAtMostExpiry(pub);
    await victimStillWorks();
  });

  it('the session cookie twice (valid + forged) is refused and the valid session is not destroyed', async () => {
    const forged = `${idOf(valid)}.${randomId()}`;
    for (const cookie of [`sid=${valid}; sid=${forged}`, `sid=${forged}; sid=${valid}`]) {
      const reply = await new Browser(t.url).get('/me', { cookie });
      expect(reply.status).toBe(401);
      expect(reply.body).toEqual(UNAUTHENTICATED);
      expect(reply.setCookies).toEqual([]);
      await victimStillWorks();
    }
  });

  it('repeated Cookie header lines are read as one header: two session cookies are refused', async () => {
    const forged = `sid=${idOf(valid)}.${randomId()}`;
    const twice = await rawGet(t.url, '/me', { cookie: [`sid=${valid}`, forged] });
    expect(twice.status).toBe(401);
    expect(JSON.parse(twice.body)).toEqual(UNAUTHENTICATED);
    // Expiring `sid` would delete the genuine host-only cookie and leave a tossed one in charge: nothing is expired.
    expect(twice.setCookies).toEqual([]);
    await victimStillWorks();
    // A harmless second line does not break a valid session.
    const split = await rawGet(t.url, '/me', { cookie: [`sid=${valid}`, 'theme=dark'] });
    expect(split.status).toBe(200);
    expect(JSON.parse(split.body)).toEqual({ user: 'victim' });
    expect(split.setCookies).toEqual([]);
  });

  it("a value that differs from the live one only in its tag's first 16 bytes is that session while cached", async () => {
    // The accepted truncation of the verified-cookie cache: it keeps the first 128 bits of the id and the last 128 of
    // the tag, and only a holder of the cookie can make such a value. Its characters 0-20 spell bits 0-125 of the tag.
    const reply = await new Browser(t.url).get('/me', { cookie: `sid=${flip(valid, 44 + 10)}` });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ user: 'victim' });
    expectNoSetCookie(reply);
    await victimStillWorks();
  });

  it('harmless neighbours do not hide a valid session: many cookies, a large header, odd names', async () => {
    const many = Array.from({ length: 300 }, (_, i) => `c${i}=v${i}`).join('; ');
    for (const cookie of [
      `${many}; sid=${valid}`,
      `junk=${'x'.repeat(8 * 1024)}; sid=${valid}`,
      `constructor=1; toString=2; sid=${valid}`,
      `bad=%E0%A4%A; sid=${valid}`,
    ]) {
      const reply = await new Browser(t.url).get('/me', { cookie });
      expect(reply.status).toBe(200);
      expect(reply.body).toEqual({ user: 'victim' });
      expectNoSetCookie(reply);
    }
    await victimStillWorks();
  });

  it('a Cookie header past the server limit is refused before any handler, never a 500', async () => {
    // Node's HTTP parser (16 KB of headers by default) answers 431 itself, on both adapters.
    const huge = await rawGet(t.url, '/me', { cookie: `sid=${valid}; junk=${'x'.repeat(20 * 1024)}` });
    expect(huge.status).toBe(431);
    expect(huge.setCookies).toEqual([]);
    await victimStillWorks();
  });

  it('after every attack the server still logs people in', async () => {
    const b = new Browser(t.url);
    const login = await b.post('/login', { user: 'newcomer' });
    expect(login.status).toBe(201);
    expect((await b.get('/me')).body).toEqual({ user: 'newcomer' });
    expect(store.size).toBe(2);
  });
});
