import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore, type SessionPolicy } from '../../lib/index.js';
import { ADAPTERS, startApp, type TestApp } from '../support/app.js';
import { NOT_CONNECTED } from '../support/auth-helpers.js';
import { AuthController } from '../support/auth.controller.js';
import { Browser } from '../support/browser.js';

/**
 * A record is trusted only within the policy's timeouts, whatever the store hands back: a snapshot edited by hand
 * (a 100-year session) or written under longer timeouts opens nothing.
 */
const YEAR_MS = 365 * 24 * 3600 * 1000;

interface SnapshotFile {
  sessions: Array<[string, { userId?: string; createdAt: number; lastSeenAt: number; idleExpiresAt: number; absoluteExpiresAt: number }]>;
}

describe.each(ADAPTERS)('records outside the policy on %s', (adapter) => {
  let dir: string;
  const apps: TestApp[] = [];

  async function start(file: string, policy: Partial<SessionPolicy> = {}): Promise<TestApp> {
    // AuthController: POST /login {user}, GET /me (@Connected) → {user}.
    const t = await startApp({
      adapter,
      controllers: [AuthController],
      policy: { ...policy, store: new MemoryStore({ snapshotFile: file }) },
    });
    apps.push(t);
    return t;
  }

  async function stop(t: TestApp): Promise<void> {
    apps.splice(apps.indexOf(t), 1);
    await t.close();
  }

  /** Logs `user` in on a first app, stops it (the snapshot is written), and returns the browser. */
  async function loggedInThenStopped(file: string, user: string, policy: Partial<SessionPolicy> = {}): Promise<Browser> {
    const first = await start(file, policy);
    const b = new Browser(first.url);
    expect((await b.post('/login', { user })).status).toBe(201);
    expect((await b.get('/me')).body).toEqual({ user });
    await stop(first);
    return b;
  }

  /** Rewrites the snapshot's only session in place (the file keeps its 0600 mode). */
  async function editSession(file: string, edit: (record: SnapshotFile['sessions'][number][1]) => void): Promise<void> {
    const snapshot = JSON.parse(await readFile(file, 'utf8')) as SnapshotFile;
    expect(snapshot.sessions).toHaveLength(1);
    edit(snapshot.sessions[0]![1]);
    await writeFile(file, JSON.stringify(snapshot));
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `nestjs-connected-bounds-${adapter}-`));
  });
  afterEach(async () => {
    for (const t of apps.splice(0)) await t.close();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a snapshot session that was given 100 years is refused, cookie expired, record closed', async () => {
    const file = join(dir, 'hundred-years.json');
    const b = await loggedInThenStopped(file, 'bounds-forever');
    await editSession(file, (record) => {
      record.idleExpiresAt = Date.now() + 100 * YEAR_MS;
      record.absoluteExpiresAt = Date.now() + 100 * YEAR_MS;
    });
    const second = await start(file);
    const reply = await new Browser(second.url).get('/me', { cookie: b.cookieHeader() });
    expect(reply.status).toBe(401);
    expect(reply.body).toEqual(NOT_CONNECTED);
    expect(reply.setCookies.map((c) => c.name)).toEqual(['sid']);
  });

  it('an idle expiry past lastSeenAt + idleTimeout is refused though the absolute one is fine', async () => {
    const file = join(dir, 'idle.json');
    const b = await loggedInThenStopped(file, 'bounds-idle');
    await editSession(file, (record) => {
      record.idleExpiresAt = record.absoluteExpiresAt;
    });
    const second = await start(file);
    expect((await new Browser(second.url).get('/me', { cookie: b.cookieHeader() })).status).toBe(401);
  });

  it('a session made under a longer absoluteTimeout ends when the policy is shortened, and an untouched one still opens', async () => {
    const file = join(dir, 'shortened.json');
    const b = await loggedInThenStopped(file, 'bounds-shortened');
    const control = join(dir, 'control.json');
    const c = await loggedInThenStopped(control, 'bounds-control');
    const shortened = await start(file, { absoluteTimeout: 3600 });
    expect((await new Browser(shortened.url).get('/me', { cookie: b.cookieHeader() })).status).toBe(401);
    const same = await start(control);
    expect((await new Browser(same.url).get('/me', { cookie: c.cookieHeader() })).body).toEqual({ user: 'bounds-control' });
  });
});
