import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, type Stats } from 'node:fs';
import { chmod, chown, lstat, mkdir, mkdtemp, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '../../lib/index.js';
import { ADAPTERS, startApp, type AdapterName, type TestApp } from '../support/app.js';
import { NOT_CONNECTED } from '../support/auth-helpers.js';
import { AuthController } from '../support/auth.controller.js';
import { Browser } from '../support/browser.js';
import { CapturedLog } from '../support/captured-log.js';

/** A uid that is not this process's, to chown a snapshot to (the tests run as root): `nobody`, unless that is us. */
const OTHER_UID = process.getuid!() === 65534 ? 65533 : 65534;

const modeOf = async (file: string) => (await stat(file)).mode & 0o7777;
const octal = (mode: number) => mode.toString(8).padStart(4, '0');

describe.each(ADAPTERS)('MemoryStore trusts only a snapshot file no one else can write, on %s', (adapter: AdapterName) => {
  let dir: string;
  const apps: TestApp[] = [];
  /** FIFOs made by a test: opened for writing at the end, so that no reader stays blocked on one. */
  const fifos: string[] = [];

  async function start(file: string): Promise<{ t: TestApp; log: CapturedLog }> {
    const log = new CapturedLog();
    const t = await startApp({
      adapter,
      controllers: [AuthController],
      policy: { store: new MemoryStore({ snapshotFile: file }) },
      configure: (app) => app.useLogger(log),
    });
    apps.push(t);
    return { t, log };
  }

  async function stop(t: TestApp): Promise<void> {
    apps.splice(apps.indexOf(t), 1);
    await t.close();
  }

  /** Logs `user` in on an app over `file` and shuts it down, so that the file holds that session. Returns the cookie. */
  async function snapshotOf(file: string, user: string): Promise<string> {
    const { t } = await start(file);
    const b = new Browser(t.url);
    expect((await b.post('/login', { user })).status).toBe(201);
    expect((await b.get('/me')).body).toEqual({ user });
    await stop(t);
    return b.jar.get('sid')!;
  }

  /** What `GET /me` answers on `t` to a browser holding the session cookie `cookie`. */
  async function meWith(t: TestApp, cookie: string) {
    const b = new Browser(t.url);
    b.jar.set('sid', cookie);
    return b.get('/me');
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `nestjs-connected-snapshot-trust-${adapter}-`));
  });
  afterEach(async () => {
    for (const fifo of fifos.splice(0)) {
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // No reader: nothing to release.
      }
    }
    // An app left open by a failed test.
    for (const t of apps.splice(0)) await t.close();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('restores the snapshot it wrote itself: a 0600 file owned by this process user', async () => {
    const file = join(dir, 'own.json');
    const cookie = await snapshotOf(file, 'trust-own');
    const stats = await stat(file);
    expect(stats.isFile()).toBe(true);
    expect(stats.mode & 0o7777).toBe(0o600);
    expect(stats.uid).toBe(process.getuid!());

    const { t, log } = await start(file);
    const me = await meWith(t, cookie);
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ user: 'trust-own' });
    expect(log.errors).toEqual([]);
    await stop(t);
  });

  it.each(['0666', '0620', '0602', '0660', '0606'])(
    'refuses a snapshot writable by group or others (mode %s), leaves it at start-up and replaces it at shutdown',
    async (written) => {
      const mode = parseInt(written, 8);
      const file = join(dir, `mode-${octal(mode)}.json`);
      const cookie = await snapshotOf(file, `trust-mode-${octal(mode)}`);
      await chmod(file, mode);
      const text = await readFile(file, 'utf8');
      expect(text).toContain(`trust-mode-${octal(mode)}`);

      const { t, log } = await start(file);
      const me = await meWith(t, cookie);
      expect(me.status).toBe(401);
      expect(me.body).toEqual(NOT_CONNECTED);
      expect(log.errors).toHaveLength(1);
      expect(log.errors[0]).toContain(`Snapshot file ${file} not loaded`);
      expect(log.errors[0]).toContain(`writable by group or others (mode ${octal(mode)})`);
      // Neither deleted nor changed at start-up: it may be evidence.
      expect(await modeOf(file)).toBe(mode);
      expect(await readFile(file, 'utf8')).toBe(text);

      // Shutdown writes this run's snapshot over it, as a new 0600 file.
      await stop(t);
      expect(await modeOf(file)).toBe(0o600);
      expect(await readFile(file, 'utf8')).not.toContain(`trust-mode-${octal(mode)}`);
    },
  );

  it("refuses a snapshot owned by another user, and a symlink to another user's file", async () => {
    const owned = join(dir, 'foreign.json');
    const cookie = await snapshotOf(owned, 'trust-foreign');
    // Only the owner changes: the mode stays the library's own 0600.
    await chown(owned, OTHER_UID, OTHER_UID);
    expect(await modeOf(owned)).toBe(0o600);
    const link = join(dir, 'link-to-foreign.json');
    await symlink(owned, link);

    // The symlink first: its shutdown replaces the link, not the file it points to, which stays foreign.
    for (const file of [link, owned]) {
      const { t, log } = await start(file);
      expect((await meWith(t, cookie)).status).toBe(401);
      expect(log.errors).toHaveLength(1);
      expect(log.errors[0]).toContain(`Snapshot file ${file} not loaded`);
      expect(log.errors[0]).toContain(`owned by uid ${OTHER_UID}, not by this process's user (uid ${process.getuid!()})`);
      await stop(t);
      const written = await lstat(file);
      expect(written.isFile()).toBe(true);
      expect(written.uid).toBe(process.getuid!());
      expect(written.mode & 0o7777).toBe(0o600);
      if (file === link) expect((await stat(owned)).uid).toBe(OTHER_UID);
    }
    expect(await readFile(link, 'utf8')).not.toContain('trust-foreign');
  });

  it('refuses what is not a regular file, without blocking the start-up: a directory, a FIFO, a device', async () => {
    const directory = join(dir, 'a-directory');
    await mkdir(directory, { mode: 0o700 });
    const fifo = join(dir, 'a-fifo');
    execFileSync('mkfifo', ['-m', '0600', fifo]);
    fifos.push(fifo);
    const device = join(dir, 'link-to-dev-null');
    await symlink('/dev/null', device);

    const kinds: Array<[string, (stats: Stats) => boolean]> = [
      [directory, (stats) => stats.isDirectory()],
      [fifo, (stats) => stats.isFIFO()],
      [device, (stats) => stats.isSymbolicLink()],
    ];
    for (const [file, isStill] of kinds) {
      const { t, log } = await start(file);
      const b = new Browser(t.url);
      expect((await b.get('/public')).body).toEqual({ user: null });
      expect((await b.post('/login', { user: 'trust-special' })).status).toBe(201);
      expect((await b.get('/me')).body).toEqual({ user: 'trust-special' });
      expect(log.errors).toEqual([expect.stringContaining(`Snapshot file ${file} not loaded: it is not a regular file`) as string]);
      // Left as it was at start-up.
      expect(isStill(await lstat(file))).toBe(true);
      // A snapshot cannot be renamed over a directory: take it away so that the shutdown can write one.
      if (file === directory) await rm(directory, { recursive: true });
      await stop(t);
      expect(await modeOf(file)).toBe(0o600);
    }
  });
});
