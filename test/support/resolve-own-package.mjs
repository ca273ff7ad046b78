// An ESM resolve hook (registered with `node --import`) that resolves `nestjs-connected` to the build named by
// NESTJS_CONNECTED_ENTRY, so that a child process runs a README recipe against the sources as compiled for it.
import { register } from 'node:module';

const entry = process.env['NESTJS_CONNECTED_ENTRY'];
if (!entry) throw new Error('resolve-own-package: NESTJS_CONNECTED_ENTRY is not set');

const hooks = `
export async function resolve(specifier, context, next) {
  if (specifier === 'nestjs-connected') return { url: ${JSON.stringify(entry)}, shortCircuit: true };
  return next(specifier, context);
}`;

register(`data:text/javascript,${encodeURIComponent(hooks)}`);
