/**
 * Exits non-zero unless this process's AsyncLocalStorage is the AsyncContextFrame one: `npm run test:node22-frame`
 * runs it first, so that a Node 22 that ignored `--experimental-async-context-frame` cannot pass for one that used it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

if (!String(AsyncLocalStorage.prototype.getStore).includes('AsyncContextFrame')) {
  console.error(`${process.version}: AsyncLocalStorage is the async_hooks one; NODE_OPTIONS=${process.env.NODE_OPTIONS ?? ''}`);
  process.exit(1);
}
