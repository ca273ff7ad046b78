import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = process.cwd();
const out = join(root, '.build', 'entry-check');

/** Imports a built file in a fresh Node process where every optional peer's import fails; resolves its output. */
async function importWithoutPeers(file: string): Promise<{ ok: boolean; output: string }> {
  const url = pathToFileURL(join(out, file)).href;
  const hook = pathToFileURL(join(root, 'test', 'support', 'deny-optional-peers.mjs')).href;
  try {
    const { stdout } = await run(process.execPath, [
      '--import',
      hook,
      '--input-type=module',
      '-e',
      `await import(${JSON.stringify(url)}); console.log('loaded');`,
    ]);
    return { ok: true, output: stdout };
  } catch (error) {
    return { ok: false, output: String((error as { stderr?: string }).stderr ?? error) };
  }
}

// The optional peers (socket.io, ws, ioredis, GraphQL, Terminus) must never be loaded by the root entry: the package
// as built, imported by Node itself.
describe('the root entry and the optional peers', () => {
  beforeAll(async () => {
    await rm(out, { recursive: true, force: true });
    await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--outDir', out]);
  }, 120_000);

  afterAll(() => rm(out, { recursive: true, force: true }));

  it.each([
    ['nestjs-connected', 'index.js'],
    ['nestjs-connected/testing', 'testing/login-as.js'],
  ])('loads %s without any optional peer', async (_entry, file) => {
    expect(await importWithoutPeers(file)).toEqual({ ok: true, output: 'loaded\n' });
  });

  it.each([
    ['nestjs-connected/graphql', 'transports/graphql/session-subscriptions.js', 'graphql'],
    ['nestjs-connected/redis', 'stores/redis/redis.store.js', 'ioredis'],
    ['nestjs-connected/ws', 'transports/ws/session-ws.adapter.js', '@nestjs/platform-ws'],
    ['nestjs-connected/terminus', 'health/session-store.health.js', '@nestjs/terminus'],
  ])('while %s does load its peer (the check can fail)', async (_entry, file, peer) => {
    const result = await importWithoutPeers(file);
    expect(result.ok).toBe(false);
    expect(result.output).toContain(`optional peer imported: ${peer}`);
  });
});
