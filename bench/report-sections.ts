/** The other parts of one line's report: memory, growth, WebSockets, the invalidation window. */
import { fixed, int, mb, table } from './report-format.js';
import type { Results } from './support/results.js';

export function memorySection(results: Results): string {
  const memory = results.memory;
  if (memory === undefined) return '## Memory per idle session\n\nNot run.';
  return [
    '## Memory per idle session',
    '',
    'A child process per row (`node --expose-gc`): `heapUsed + arrayBuffers` after `gc()` before and after filling the store, divided ' +
      'by the count. nestjs-connected: `MemoryStore.create()` with records shaped as a login writes them (43-character ' +
      'SHA-256 key, user id over 10,000 users, epoch, four times, address, a browser User-Agent, `data: {}`). ' +
      'express-session: `MemoryStore.set(sid, { cookie, userId })` (it keeps JSON strings). Floor: ' +
      '`Map<string, { userId }>`. Same ids and user ids in all three.',
    '',
    table(
      ['store', 'sessions', 'bytes per session', 'ratio to the Map floor', 'heap after', 'fill time'],
      memory.map((m) => [
        `\`${m.store}\``,
        int(m.sessions),
        int(m.bytesPerSession),
        fixed(m.ratioToFloor),
        mb(m.heapAfter),
        `${fixed(m.fillMs / 1000, 1)} s`,
      ]),
    ),
  ].join('\n');
}

export function growthSection(results: Results): string {
  const growth = results.growth;
  if (growth === undefined) return '## Growth with the number of sessions\n\nNot run.';
  const out = ['## Growth with the number of sessions (nestjs-connected + MemoryStore)', ''];
  out.push('### (a) Guarded read, Express, as the store fills', '');
  if (growth.read.length > 0) {
    const base = growth.read[0]?.result;
    out.push(
      `The \`read\` cell over ${int(growth.read[0]?.loggedIn ?? 0)} logged-in sessions, in a server whose MemoryStore holds ` +
        'only them, and in one prefilled (through `create()`, at start-up) with connected sessions of 10,000 users.',
      '',
      table(
        ['sessions stored', 'req/s', 'p50 ms', 'p99 ms', 'req/s vs the smallest store', 'p50 vs the smallest store', 'non-2xx'],
        growth.read.map((g) => {
          const r = g.result;
          return [
            int(g.stored),
            r ? int(r.requestsPerSecond) : '–',
            fixed(r?.p50),
            fixed(r?.p99),
            r && base ? fixed(r.requestsPerSecond / base.requestsPerSecond) : '–',
            r && base ? fixed(r.p50 / base.p50) : '–',
            r
              ? (r.non2xx + r.errors > 0 ? `**${int(r.non2xx)} non-2xx, ${int(r.errors)} errors**` : '0') +
                (g.problems.length ? ` ${g.problems.join('; ')}` : '')
              : '–',
          ];
        }),
      ),
    );
  } else {
    out.push('No result.');
  }
  out.push('', '### (b) `disconnectAll` of a user with 10 sessions', '');
  out.push(
    'In-process, median of the repetitions after a warm-up one, `gc()` before each: the store call `closeUser(userId)`, and ' +
      "`SessionService.disconnectAll({ userId })` (events, values' clean-up) in a Nest application context on the same store.",
    '',
    table(
      ['sessions stored', "user's sessions", 'store.closeUser ms', 'SessionService.disconnectAll ms', 'runs'],
      growth.disconnectAll.map((d) => [
        int(d.stored),
        int(d.userSessions),
        fixed(d.store.medianMs, 3),
        fixed(d.service?.medianMs, 3),
        String(d.store.runsMs.length),
      ]),
    ),
  );
  out.push('', '### (c) Expiry sweep', '');
  out.push(
    "Sessions expiring within the same second, swept by the MemoryStore's own once-a-second timer (no fake timers, no " +
      'manual call: the instance\'s `sweep` is wrapped to time the call the timer makes). "bare": the store alone; "with ' +
      'SessionModule": the library\'s lifecycle subscribed to removals, as in an app; "until idle": from the start of ' +
      "the sweep until the event loop runs the next `setImmediate` (the listeners' asynchronous work included).",
    '',
    table(
      ['sessions stored', 'expiring at once', 'sweep, bare store ms', 'sweep, with SessionModule ms', 'until idle ms', 'runs'],
      growth.sweep.map((s) => [
        int(s.stored),
        int(s.expiring),
        fixed(s.bare?.medianMs, 1),
        fixed(s.app?.medianMs, 1),
        fixed(s.app?.medianUntilIdleMs, 1),
        String(s.bare?.runsMs.length ?? s.app?.runsMs.length ?? 0),
      ]),
    ),
  );
  if (growth.problems.length > 0) out.push('', ...growth.problems.map((p) => `- **Problem:** ${p}`));
  return out.join('\n');
}

export function socketsSection(results: Results): string {
  const sockets = results.sockets;
  if (sockets === undefined) return '## WebSockets\n\nNot run.';
  const plainSocket = sockets.heap.find((h) => h.mode === 'plain')?.bytesPerSocket;
  const plainOpen = sockets.messages.find((m) => m.mode === 'plain' && m.handler === 'open')?.messagesPerSecond;
  const name = (mode: string) => (mode === 'plain' ? "Nest's IoAdapter, no sessions" : 'nestjs-connected SessionIoAdapter');
  const out = [
    '## WebSockets (socket.io)',
    '',
    'One server process (Express, `--expose-gc`) holds the sockets, each opened with its own logged-in cookie ' +
      "(nestjs-connected) or none (plain, the same gateway on Nest's IoAdapter). Memory per socket = the server's own `heapUsed + arrayBuffers` after `gc()` (asked " +
      'through its stdin) after opening the sockets minus before, divided by the count. Messages: senders emit a number ' +
      'and await its ack in a loop.',
    '',
    table(
      ['server', 'sockets', 'memory per socket', 'ratio to plain', 'memory per logged-in session (before the sockets)'],
      sockets.heap.map((h) => [
        name(h.mode),
        int(h.sockets),
        `${int(h.bytesPerSocket)} B`,
        plainSocket ? fixed(h.bytesPerSocket / plainSocket) : '–',
        h.bytesPerSession === undefined ? '–' : `${int(h.bytesPerSession)} B`,
      ]),
    ),
    '',
    table(
      ['server', 'handler', 'senders', 'messages/s', 'p50 ms', 'p99 ms', 'ratio to plain `open`', 'errors'],
      sockets.messages.map((m) => [
        name(m.mode),
        m.handler === 'guarded' ? '`@Connected()` `guarded`' : 'unguarded `open`',
        int(m.senders),
        int(m.messagesPerSecond),
        fixed(m.p50),
        fixed(m.p99),
        plainOpen ? fixed(m.messagesPerSecond / plainOpen) : '–',
        m.errors > 0 ? `**${int(m.errors)}**` : '0',
      ]),
      'llrrrrrr',
    ),
  ];
  if (sockets.problems.length > 0) out.push('', ...sockets.problems.map((p) => `- **Problem:** ${p}`));
  return out.join('\n');
}

export function liveMemorySection(results: Results): string {
  const live = results.liveMemory;
  if (live === undefined) return '';
  const theirs = live.find((m) => m.id === 'express-session-memory')?.bytesPerSession;
  return [
    '## Memory per session in a running server',
    '',
    "Each library's HTTP server in its own process (`node --expose-gc --no-flush-bytecode`): " +
      `${int(live[0]?.sessions ?? 0)} real logins over HTTP (one user per session), then one guarded \`GET /read\` per ` +
      "session. The server's own `heapUsed + arrayBuffers` after `gc()` (asked through its stdin), minus the same " +
      'reading before the logins (taken after 2,000 warm-up logins and reads), divided by the count.',
    '',
    table(
      [
        'framework',
        'library',
        'sessions',
        'B per session after login',
        'B per session after one request each',
        'ratio to express-session',
        'problems',
      ],
      live.map((m) => [
        m.framework === 'express' ? 'Express' : 'Fastify',
        m.label,
        int(m.sessions),
        int(m.bytesPerSessionAfterLogins),
        int(m.bytesPerSession),
        theirs ? fixed(m.bytesPerSession / theirs) : '–',
        m.problems.join('; ') || '0',
      ]),
      'llrrrrl',
    ),
  ].join('\n');
}

export function windowSection(results: Results): string {
  const window = results.window;
  if (window === undefined) return '';
  const head = '## Near cache invalidation window (RedisStore)';
  if ('pending' in window) return `${head}\n\nPending: ${window.pending}.`;
  const options = JSON.stringify(window.storeOptions);
  return [
    head,
    '',
    "Two `RedisStore` instances on the run's redis-server, as two servers hold them (each with its own connections; " +
      `options ${options === '{}' ? 'the defaults' : `\`${options}\``}). Server B reads the session, server A's \`setField\` ` +
      "resolves, then B's `get` is polled (a `setImmediate` between reads) until it shows the new value. Without a near " +
      "cache B's first read is a round trip to Redis, already fresh.",
    '',
    table(
      ['writes', 'p50 ms', 'p99 ms', 'max ms', 'mean ms', "fresh on B's first read", 'never seen (1 s)', 'steady get p50 ms'],
      [
        [
          int(window.writes),
          fixed(window.p50, 3),
          fixed(window.p99, 3),
          fixed(window.max, 3),
          fixed(window.mean, 3),
          int(window.firstReadFresh),
          int(window.neverSeen),
          fixed(window.steadyGetP50, 3),
        ],
      ],
    ),
  ].join('\n');
}
