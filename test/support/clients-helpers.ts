import type { INestApplication } from '@nestjs/common';
import { SessionService, type SessionEvent } from '../../lib/index.js';
import { SessionClients } from '../../lib/transports/clients/session-clients.js';
import { Browser } from './browser.js';
import type { EventRecorder } from './lifecycle-helpers.js';
import { openSocket, type OpenOptions, type SocketKind, type TestSocket } from './sockets.js';

/** A valid process id (1-64 of [A-Za-z0-9_-]) unique in this test file; `socket.io` loses its dot. */
let processCounter = 0;
export function processIdFor(...parts: string[]): string {
  const id = [...parts, String(++processCounter)].join('-').replace(/[^A-Za-z0-9_-]/g, '');
  if (id.length > 64) throw new Error(`process id too long: ${id}`);
  return id;
}

/** Logs a new browser in as `user` over HTTP. */
export async function login(url: string, user: string, headers: Record<string, string> = {}): Promise<Browser> {
  const browser = new Browser(url, headers);
  const reply = await browser.post('/login', { user });
  if (reply.status !== 201) throw new Error(`login of ${user} failed: ${reply.status} ${reply.text}`);
  return browser;
}

/** The handle of the (only) session of `user`. */
export async function handleOf(app: INestApplication, user: string): Promise<string> {
  const sessions = await app.get(SessionService).listSessions(user);
  if (sessions.length !== 1) throw new Error(`expected one session for ${user}, got ${sessions.length}`);
  return sessions[0]!.handle;
}

/** The registry of live sockets of an app. */
export function registryOf(app: INestApplication): SessionClients {
  return app.get(SessionClients, { strict: false });
}

/** Sockets opened by a test, all closed (and awaited) by `closeAll()` in afterEach. */
export class SocketPool {
  private readonly sockets: TestSocket[] = [];

  constructor(
    readonly kind: SocketKind,
    private readonly url: () => string,
  ) {}

  async open(options: OpenOptions = {}): Promise<TestSocket> {
    const socket = await openSocket(this.kind, this.url(), options);
    this.sockets.push(socket);
    return socket;
  }

  async closeAll(): Promise<void> {
    await Promise.all(
      this.sockets.splice(0).map(async (socket) => {
        await socket.close();
        await socket.ended;
      }),
    );
  }
}

/** Waits for the event of `type` about process `process`. */
export function eventOf(recorder: EventRecorder, type: SessionEvent['type'], process: string): Promise<SessionEvent> {
  return recorder.waitFor((event) => event.type === type && event.process === process);
}

/**
 * Closes a socket from its client and waits until the server has finished with it: `client-disconnected` is the
 * last step of the registry's bookkeeping for a socket (after its process values and the session's `onNoClient`).
 */
export async function closeAndSettle(socket: TestSocket, recorder: EventRecorder, process: string): Promise<void> {
  await socket.close();
  await socket.ended;
  await eventOf(recorder, 'client-disconnected', process);
}

export { ProcessFaults } from './process-faults.js';

/** Lets timers queued by the current turn (RxJS reports subscriber errors on a timeout) run before asserting. */
export async function settleTurns(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 0));
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setTimeout(resolve, 0));
}
