import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { anchorsOf, linksOf } from '../support/markdown-links.js';

const run = promisify(execFile);
const root = process.cwd();
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

interface PackageJson {
  engines: { node: string };
  exports: Record<string, string | { types: string; default: string }>;
  typesVersions: Record<string, Record<string, string[]>>;
}

/** Every entry of the package and a name it must export. */
const ENTRIES: Array<[entry: string, name: string]> = [
  ['nestjs-connected', 'SessionModule'],
  ['nestjs-connected/socket.io', 'SessionIoAdapter'],
  ['nestjs-connected/ws', 'SessionWsAdapter'],
  ['nestjs-connected/redis', 'RedisStore'],
  ['nestjs-connected/graphql', 'sessionSubscriptions'],
  ['nestjs-connected/testing', 'loginAs'],
  ['nestjs-connected/terminus', 'SessionStoreHealthIndicator'],
];

/**
 * A user's file: every entry imported and used, so that each resolves to the package's own types. The
 * `@ts-expect-error` lines fail the check if a type came out as `any` (an entry whose types did not resolve).
 */
const USER_CODE = `import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { MemoryStore, SessionModule, SessionService, type SessionPolicy } from 'nestjs-connected';
import { sessionSubscriptions } from 'nestjs-connected/graphql';
import { RedisStore } from 'nestjs-connected/redis';
import { SessionIoAdapter } from 'nestjs-connected/socket.io';
import { SessionStoreHealthIndicator } from 'nestjs-connected/terminus';
import { loginAs, type LoginAsOptions } from 'nestjs-connected/testing';
import { SessionWsAdapter } from 'nestjs-connected/ws';

const policy: SessionPolicy = { secret: 'a-secret-of-at-least-32-characters!!', store: new MemoryStore() };
export const sessions = SessionModule.forRoot(policy);
export const redis = (url: string): RedisStore => new RedisStore({ url });
export const adapters = (app: INestApplication) => [new SessionIoAdapter(app, {}), new SessionWsAdapter(app, { allowAnonymous: true })];
export const subscriptions = sessionSubscriptions({ allowedOrigins: ['https://example.com'] });
export const login: (app: INestApplication, userId: string, options?: LoginAsOptions) => Promise<string> = loginAs;
export const health = async (indicator: SessionStoreHealthIndicator): Promise<string> => (await indicator.isHealthy('store')).store.status;
export const whoami = (service: SessionService): string | undefined => service.currentUserId();
// @ts-expect-error a user id is a string
export const wrongUser = (app: INestApplication) => loginAs(app, 42);
// @ts-expect-error the policy needs a secret
export const noSecret: SessionPolicy = {};
// @ts-expect-error the result is keyed by the key given
export const wrongKey = async (indicator: SessionStoreHealthIndicator) => (await indicator.isHealthy('store')).other.status;
`;

/** The TypeScript settings a user might have: the module system and how imports are resolved. */
const MODES = {
  NodeNext: { module: 'NodeNext', moduleResolution: 'NodeNext' },
  Bundler: { module: 'ESNext', moduleResolution: 'Bundler' },
  node10: { module: 'CommonJS', moduleResolution: 'node10' },
} as const;

// `npm pack` (whose prepack builds dist/ afresh) and the tarball installed into a scratch application, as a user gets it.
describe('the package as npm packs it', () => {
  let work: string;
  let app: string;
  let installed: string;
  let files: string[];
  let pkg: PackageJson;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'nestjs-connected-pack-'));
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: root, maxBuffer: 64 * 1024 * 1024 });
    const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    files = packed!.files.map((file) => file.path).sort();
    app = join(work, 'app');
    await mkdir(app);
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'scratch-app', version: '1.0.0', private: true, type: 'module' }));
    // The tarball and its own dependency (`cookie`, from npm's cache); the peers are the ones this repository
    // installed, linked in below, since they would otherwise be downloaded again.
    await run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        '--legacy-peer-deps',
        '--ignore-scripts',
        '--no-package-lock',
        join(work, packed!.filename),
      ],
      { cwd: app },
    );
    const modules = join(root, 'node_modules');
    for (const name of await readdir(modules)) {
      if (!existsSync(join(app, 'node_modules', name))) await symlink(join(modules, name), join(app, 'node_modules', name));
    }
    installed = join(app, 'node_modules', 'nestjs-connected');
    pkg = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as PackageJson;
  }, 180_000);

  afterAll(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('holds the licence, the README, the built library with its declarations, and no tests or TypeScript sources', async () => {
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts']));
    expect(await readFile(join(installed, 'LICENSE'), 'utf8')).toContain('Copyright (c) 2026 the nestjs-connected authors');
    expect(files.filter((file) => /(^|\/)(test|sample|lib)\//.test(file) || /\.spec\./.test(file))).toEqual([]);
    expect(files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))).toEqual([]);
    // Everything else is a document the README links to.
    expect(files.filter((file) => !file.startsWith('dist/'))).toEqual([
      'LICENSE',
      'README.md',
      'bench/README.md',
      'bench/RESULTS.md',
      'bench/ratio-chart.svg',
      'docs/ARCHITECTURE.md',
      'docs/images/sample-revoked-phone.png',
      'docs/images/sample-sessions.png',
      'package.json',
    ]);
  });

  it('names only files it holds in exports and typesVersions, a declaration for every entry', () => {
    for (const [entry, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') {
        expect([entry, files.includes(posix.normalize(target))]).toEqual([entry, true]);
        continue;
      }
      expect([entry, files.includes(posix.normalize(target.default)), files.includes(posix.normalize(target.types))]).toEqual([
        entry,
        true,
        true,
      ]);
      // node10 finds a sub-path's declarations through typesVersions only: the same file as `exports`.
      if (entry !== '.') expect(pkg.typesVersions['*']![entry.slice(2)]).toEqual([target.types]);
    }
    expect(Object.keys(pkg.exports)).toEqual(expect.arrayContaining(ENTRIES.map(([entry]) => entry.replace('nestjs-connected', '.'))));
  });

  it('ships source maps that carry their sources', async () => {
    const maps = files.filter((file) => file.endsWith('.js.map'));
    expect(maps.length).toBe(files.filter((file) => file.endsWith('.js')).length);
    for (const file of maps) {
      const map = JSON.parse(await readFile(join(installed, file), 'utf8')) as { sources: string[]; sourcesContent?: unknown[] };
      expect([file, map.sourcesContent?.length]).toEqual([file, map.sources.length]);
      expect(map.sourcesContent!.every((source) => typeof source === 'string' && source.length > 0)).toBe(true);
    }
  });

  it('has README links that resolve inside the package, and states the Node lines of engines', async () => {
    const readme = await readFile(join(installed, 'README.md'), 'utf8');
    const anchors = anchorsOf(readme);
    const broken = linksOf(readme).filter(({ target }) => {
      if (/^[a-z]+:/i.test(target)) return false;
      if (target.startsWith('#')) return !anchors.has(target.slice(1));
      return !files.includes(posix.normalize(target.split('#')[0]!));
    });
    expect(broken).toEqual([]);
    // The supported lines are stated with the range itself, so that the two cannot drift apart unnoticed.
    expect(readme.split('\n').filter((line) => line.includes(`\`${pkg.engines.node}\``))).toHaveLength(1);
  });

  it('imports every entry in Node, with import and with require', async () => {
    const script = `for (const [entry, name] of ${JSON.stringify(ENTRIES)}) {
      const loaded = await import(entry);
      if (typeof loaded[name] !== 'function') throw new Error(entry + ' has no ' + name);
    }
    console.log('imported');`;
    const imported = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: app });
    expect(imported.stdout).toBe('imported\n');
    const required = await run(process.execPath, ['-e', `console.log(typeof require('nestjs-connected').SessionModule)`], { cwd: app });
    expect(required.stdout).toBe('function\n');
  });

  it('type-checks a user’s imports of every entry under NodeNext, Bundler and node10', async () => {
    await mkdir(join(app, 'src'));
    await writeFile(join(app, 'src', 'main.ts'), USER_CODE);
    const checks = Object.entries(MODES).map(async ([mode, options]) => {
      const config = join(app, `tsconfig.${mode}.json`);
      const compilerOptions = {
        ...options,
        target: 'ES2022',
        strict: true,
        noEmit: true,
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
        types: ['node'],
        // Only NodeNext checks every declaration file (the package's own, and what they import); its errors are
        // then filtered to the package's files, since other packages' declarations are not ours to fix.
        skipLibCheck: mode !== 'NodeNext',
      };
      await writeFile(config, JSON.stringify({ compilerOptions, files: ['src/main.ts'] }));
      try {
        await run(process.execPath, [tsc, '-p', config], { cwd: app, maxBuffer: 16 * 1024 * 1024 });
        return [mode, []];
      } catch (error) {
        const output = String((error as { stdout?: string }).stdout ?? error);
        const ours = output.split('\n').filter((line) => /^(src\/|node_modules\/nestjs-connected\/)/.test(line));
        return [mode, mode === 'NodeNext' ? ours : output.split('\n').filter((line) => line.length > 0)];
      }
    });
    expect(await Promise.all(checks)).toEqual(Object.keys(MODES).map((mode) => [mode, []]));
  }, 120_000);
});
