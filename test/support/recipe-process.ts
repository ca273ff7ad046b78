import { transformFile } from '@swc/core';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

const root = process.cwd();

/** TypeScript files under `dir`, recursively. */
async function typescriptFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile() && entry.name.endsWith('.ts')).map((entry) => join(entry.parentPath, entry.name));
}

/**
 * Compiles `lib/` and the given files of the repository into `out` with the same SWC settings as Jest, without type
 * checking (`npm run typecheck` does that), as ES modules that Node runs directly.
 */
export async function compileForNode(out: string, files: string[]): Promise<void> {
  await rm(out, { recursive: true, force: true });
  const sources = [...(await typescriptFiles(join(root, 'lib'))), ...files.map((file) => join(root, file))];
  await Promise.all(
    sources.map(async (source) => {
      const { code } = await transformFile(source, {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
        },
        module: { type: 'es6' },
      });
      const target = join(out, relative(root, source)).replace(/\.ts$/, '.js');
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, code);
    }),
  );
}

/** A recipe served by a child Node process (test/support/recipe-server.mjs). */
export interface RecipeServer {
  url: string;
  close(): Promise<void>;
}

/** Serves the export `exportName` of the compiled `file` (a path relative to the repository) in a child Node process. */
export async function serveRecipe(out: string, file: string, exportName: string, adapter: 'express' | 'fastify'): Promise<RecipeServer> {
  const moduleUrl = pathToFileURL(join(out, file.replace(/\.ts$/, '.js'))).href;
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      pathToFileURL(join(root, 'test', 'support', 'resolve-own-package.mjs')).href,
      join(root, 'test', 'support', 'recipe-server.mjs'),
      moduleUrl,
      exportName,
      adapter,
    ],
    {
      env: { ...process.env, NODE_OPTIONS: '', NESTJS_CONNECTED_ENTRY: pathToFileURL(join(out, 'lib', 'index.js')).href },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const firstLine = await new Promise<string | undefined>((resolve) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', resolve);
    lines.once('close', () => resolve(undefined));
  });
  if (firstLine === undefined) {
    await exited;
    throw new Error(`the recipe server for ${file} exited before listening:\n${stderr}`);
  }
  const { url } = JSON.parse(firstLine) as { url: string };
  return {
    url,
    close: async () => {
      child.stdin!.end();
      await exited;
    },
  };
}
