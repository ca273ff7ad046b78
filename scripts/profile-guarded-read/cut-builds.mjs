/**
 * The builds that docs/ARCHITECTURE.md ("Per-request cost") measures the library against: copies of a built library
 * with one part of the guarded read cut out, or answered from a cache no real build could keep. Each is an edit of
 * the compiled JavaScript, anchored on the exact text it replaces: when the library changes under an anchor, making
 * that build fails and says which, instead of measuring a build that silently kept the code.
 *
 *   node scripts/profile-guarded-read/cut-builds.mjs [--lib dist] .build          # all of them, in .build/<name>
 *   node scripts/profile-guarded-read/cut-builds.mjs [--lib dist] .build floor    # some of them
 *
 * then `--variants ceiling,connected,connected@.build/floor` (cpu mode) runs one next to the library.
 */
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const GUARD = 'guards/session.guard.js';
const RESOLVER = 'session/session-resolver.js';
const VALUES = 'session/session-values.js';
const DECORATOR = 'decorators/session-data.decorator.js';

const CAN_ACTIVATE = '    canActivate(execution) {\n';

/** An edit: `code` put right after the one occurrence of `anchor` in `file`. */
function after(file, anchor, code) {
  return [file, anchor, anchor + code];
}

/** An edit: `code` put right before the one occurrence of `anchor` in `file`. */
function before(file, anchor, code) {
  return [file, anchor, code + anchor];
}

/** name -> what it leaves out, and its edits: [file, the exact text, what replaces it]. */
export const CUT_BUILDS = {
  'no-pipeline': {
    leavesOut: 'everything but the slot and the module: the guard answers true at once, @SessionData reads undefined',
    edits: [
      after(GUARD, CAN_ACTIVATE, '        if (execution !== null) return true;\n'),
      after(VALUES, '    read(key, context) {\n', '        if (key !== null) return undefined;\n'),
    ],
  },
  'no-resolution': {
    leavesOut:
      'the resolution: the resolver hands back the first live session it found (no cookie parse, verified-cookie look-up, store read, record or checks)',
    edits: [
      after(RESOLVER, '    resolve(transport) {\n', '        if (this.firstLive !== undefined) return this.firstLive;\n'),
      [RESOLVER, '        return { key, record };', '        this.firstLive = { key, record };\n        return this.firstLive;'],
    ],
  },
  'no-header': {
    leavesOut: 'Cache-Control: no-store on a connected answer',
    edits: [after(GUARD, '    markPrivate(context) {\n', '        return true;\n')],
  },
  'no-cookie-read': {
    leavesOut: "the resolution's cookie read: the first session cookie read is reused",
    edits: [
      [
        RESOLVER,
        'const cookie = this.cookie.read(transport);',
        "const cookie = this.firstCookie ?? this.cookie.read(transport);\n        if (cookie.kind === 'one') this.firstCookie = cookie;",
      ],
    ],
  },
  'no-cookie-check': {
    leavesOut: "the resolution's VerifiedCookies look-up (decode, index, compare): the first store key found is reused",
    edits: [[RESOLVER, 'let key = this.verified.keyOf(cookie.value);', 'let key = (this.firstKey ??= this.verified.keyOf(cookie.value));']],
  },
  'no-store-read': {
    leavesOut:
      "the resolution's store read (TimedStore, MemoryStore.peek: the key's hash, expiry, epoch, a new record): the first record is reused",
    edits: [[RESOLVER, 'const found = this.store.read(key);', 'const found = (this.firstRecord ??= this.store.read(key));']],
  },
  'no-session-checks': {
    leavesOut: "the resolution's checks on a record found (policy times, bindIp, check, touch, Date.now)",
    edits: [
      [
        RESOLVER,
        'return this.found(transport, key, found);',
        'return found === undefined ? this.found(transport, key, found) : { key, record: found };',
      ],
    ],
  },
  floor: {
    leavesOut:
      'all but the API: after one real resolution per Cookie header, the guard finds the record in a Map by the whole header, ' +
      'checks nothing, puts it on the request and sets the header on the Node response; @SessionData reads it from there',
    edits: [
      // The real canActivate becomes canActivateReal, for the first request of each Cookie header.
      after(
        GUARD,
        CAN_ACTIVATE,
        `        const http = execution.switchToHttp();
        const request = http.getRequest();
        const header = request.headers.cookie;
        const known = header === undefined ? undefined : FLOOR.get(header);
        if (known === undefined) {
            const admitted = this.canActivateReal(execution);
            const live = this.context.current()?.session;
            if (admitted === true && live !== undefined && header !== undefined) FLOOR.set(header, live.record);
            request.floorRecord = live?.record;
            return admitted;
        }
        request.floorRecord = known;
        const response = http.getResponse();
        (response.raw ?? response).setHeader('Cache-Control', 'no-store');
        return true;
    }
    canActivateReal(execution) {
`,
      ),
      before(GUARD, 'let SessionGuard = class SessionGuard {', 'const FLOOR = new Map();\n'),
      before(DECORATOR, 'export const SessionData', "import { fieldOf } from '../session/record-fields.js';\n"),
      after(
        DECORATOR,
        'createParamDecorator((key, _execution) => {\n',
        `    const record = _execution.switchToHttp().getRequest().floorRecord;
    if (record !== undefined) {
        const text = record.data[fieldOf(key)];
        return text === undefined ? undefined : key.codec.deserialize(text);
    }
`,
      ),
    ],
  },
};

/** Makes `<out>/<name>` for each name (all when none): a copy of `lib` with that build's edits. */
export function makeCutBuilds(lib, out, names = Object.keys(CUT_BUILDS)) {
  for (const name of names) {
    const build = CUT_BUILDS[name];
    if (build === undefined) throw new Error(`no cut build named ${name} (there are: ${Object.keys(CUT_BUILDS).join(', ')})`);
    const dir = join(out, name);
    rmSync(dir, { recursive: true, force: true });
    cpSync(lib, dir, { recursive: true });
    for (const [file, anchor, replacement] of build.edits) {
      const path = join(dir, file);
      const text = readFileSync(path, 'utf8');
      const at = text.indexOf(anchor);
      if (at === -1 || text.indexOf(anchor, at + 1) !== -1) {
        throw new Error(
          `cut build ${name}: ${file} no longer has its anchor once (${JSON.stringify(anchor.split('\n')[0])}); update CUT_BUILDS`,
        );
      }
      writeFileSync(path, text.slice(0, at) + replacement + text.slice(at + anchor.length));
    }
    console.log(`${dir}: ${build.leavesOut}`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({ options: { lib: { type: 'string', default: 'dist' } }, allowPositionals: true });
  const [out, ...names] = positionals;
  if (out === undefined) throw new Error('usage: cut-builds.mjs [--lib dist] <out dir> [name ...]');
  makeCutBuilds(values.lib, out, names.length > 0 ? names : undefined);
}
