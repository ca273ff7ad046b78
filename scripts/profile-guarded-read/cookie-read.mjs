// SessionCookie.read of one or more built libraries, in nanoseconds per read, on Cookie headers of a few shapes:
// a micro-benchmark for changes to the cookie read that the HTTP harness cannot resolve (docs/ARCHITECTURE.md,
// "Per-request cost"). Builds alternate batch by batch in this one process; the figure is each one's median batch.
//
//   PATH="$(node scripts/node-line.mjs 24):$PATH" node scripts/profile-guarded-read/cookie-read.mjs dist .build/old
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const VALUE = `${'A'.repeat(43)}.${'b'.repeat(43)}`;
const HEADERS = {
  'one cookie': `sid=${VALUE}`,
  'five cookies': `_ga=GA1.2.345678; theme=dark; sid=${VALUE}; lang=en; consent=yes`,
  'name twice': `sidebar=open; sid=${VALUE}`,
};
const BATCH = 200_000;
const BATCHES = 15;

const readers = [];
for (const dir of process.argv.slice(2)) {
  const { SessionCookie } = await import(pathToFileURL(resolve(dir, 'session/session-cookie.js')).href);
  const { resolveSessionPolicy } = await import(pathToFileURL(resolve(dir, 'session-policy.js')).href);
  const cookie = new SessionCookie(resolveSessionPolicy({ secret: 'x'.repeat(32), cookie: { name: 'sid', secure: false } }));
  readers.push({ dir, cookie });
}
if (readers.length === 0) throw new Error('name one or more built libraries: dist .build/<copy>');

let sink = 0;
for (const [shape, header] of Object.entries(HEADERS)) {
  const transport = { headers: { cookie: header }, secure: false };
  const batches = new Map(readers.map(({ dir }) => [dir, []]));
  for (let round = -2; round < BATCHES; round++) {
    for (const { dir, cookie } of readers) {
      const started = process.hrtime.bigint();
      for (let i = 0; i < BATCH; i++) sink += cookie.read(transport).kind.length;
      if (round >= 0) batches.get(dir).push(Number(process.hrtime.bigint() - started) / BATCH);
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  console.log(`${shape.padEnd(13)} ${readers.map(({ dir }) => `${dir} ${median(batches.get(dir)).toFixed(0)} ns`).join(', ')}`);
}
if (sink === 0) console.log('(nothing read)');
