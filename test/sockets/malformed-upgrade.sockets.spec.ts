import type { Type } from '@nestjs/common';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Connected, CurrentUser } from '../../lib/index.js';
import { ADAPTERS, startApp, type AdapterName, type TestApp } from '../support/app.js';
import { AuthController } from '../support/auth.controller.js';
import { login, ProcessFaults, settleTurns, SocketPool } from '../support/clients-helpers.js';
import { LiveGateway } from '../support/live.gateway.js';
import { freePort } from '../support/redis-server.js';
import { sessionSockets, SOCKET_KINDS, type SocketKind } from '../support/sockets.js';

/**
 * No input may throw out of a handshake: an upgrade whose target is not a URL at all (`//[`: a host that cannot be
 * parsed) once made the ws adapter's `verifyClient` throw inside ws's `upgrade` listener, an uncaught exception that
 * ends the whole process (HTTP included). It must be answered (400 for ws) and everything must keep serving.
 */

/** Request targets that `new URL(target, base)` rejects: an unparseable host, a port out of range. */
const MALFORMED_TARGETS = ['//[', '//localhost:99999/', '//[?process=abc'];

/** A gateway on a port of its own, without a path: ws then makes its own server, without Nest's upgrade listener. */
function portGateway(port: number): Type {
  @WebSocketGateway(port)
  class PortGateway {
    @Connected()
    @SubscribeMessage('whoami')
    whoami(@CurrentUser() user: string) {
      return { event: 'whoami', data: { user } };
    }
  }
  return PortGateway;
}

/** The raw answer to an upgrade request, as it came off the wire ('' when the server closed without a word). */
interface RawAnswer {
  text: string;
  /** The server neither answered nor closed within the wait (a handshake that died half way). */
  hung: boolean;
}

/** How long a raw upgrade may go unanswered before it counts as hung: an upper bound, not a speed claim. */
const HANG_MS = 5000;

/** Sends an upgrade request for `target` over a raw TCP connection (no client library would send such a target). */
function rawUpgrade(port: number, target: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let text = '';
    let settled = false;
    const finish = (hung: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // A hung handshake's server side waits for data forever (HTTP servers allow half-open sockets): a reset ends
      // it, so that the app can still close.
      if (hung) socket.resetAndDestroy();
      else socket.destroy();
      resolve({ text, hung });
    };
    const timer = setTimeout(() => finish(true), HANG_MS);
    socket.on('connect', () => {
      socket.write(
        [
          `GET ${target} HTTP/1.1`,
          `Host: 127.0.0.1:${port}`,
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
          'Sec-WebSocket-Version: 13',
          '',
          '',
        ].join('\r\n'),
      );
    });
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      // The status line and headers are all a test reads; a 101 would keep the socket open.
      if (text.includes('\r\n\r\n')) finish(false);
    });
    socket.on('close', () => finish(false));
    socket.on('error', (error) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        reject(error);
      }
    });
  });
}

/** The status line of a raw answer. */
function statusLine(answer: RawAnswer): string {
  return answer.text.split('\r\n', 1)[0] ?? '';
}

describe.each(ADAPTERS)('malformed upgrade requests on %s', (adapter: AdapterName) => {
  describe.each(SOCKET_KINDS)('%s', (kind: SocketKind) => {
    let t: TestApp;
    let gatewayPort: number;
    const faults = new ProcessFaults();
    const appPool = new SocketPool(kind, () => t.url);
    const portPool = new SocketPool(kind, () => `http://127.0.0.1:${gatewayPort}`);

    beforeAll(async () => {
      gatewayPort = await freePort();
      t = await startApp({
        adapter,
        // AuthController: POST /login {user}, GET /me (@Connected) → {user}, GET /public → {user | null}.
        controllers: [AuthController],
        // LiveGateway on the app's own server (Nest's upgrade listener in front), PortGateway on a port of its own.
        providers: [LiveGateway, portGateway(gatewayPort)],
        configure: sessionSockets(kind),
      });
    });
    beforeEach(() => faults.install());
    afterEach(async () => {
      await appPool.closeAll();
      await portPool.closeAll();
      await settleTurns();
      faults.uninstall();
    });
    afterAll(() => t.close());

    /** The app still serves: a routed HTTP request, and a valid socket on both gateways knows its user. */
    async function expectServing(user: string): Promise<void> {
      const browser = await login(t.url, user);
      const me = await browser.get('/me');
      expect(me.status).toBe(200);
      expect(me.body).toEqual({ user });
      for (const pool of [portPool, appPool]) {
        const socket = await pool.open({ cookie: browser.cookieHeader() });
        expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user } });
      }
    }

    /** What the answer must be: ws refuses with 400; socket.io either refuses with a 4xx or closes without a word. */
    function expectRefusedAnswer(answer: RawAnswer, target: string): void {
      const line = statusLine(answer);
      expect({ target, hung: answer.hung }).toEqual({ target, hung: false });
      if (kind === 'ws') {
        expect({ target, line }).toEqual({ target, line: expect.stringMatching(/^HTTP\/1\.1 400\b/) });
        // The refusal says why, as every other refused upgrade does.
        expect(answer.text.toLowerCase()).toContain('\r\nx-session-refusal: bad_request\r\n');
      } else {
        expect({ target, line }).toEqual({ target, line: expect.stringMatching(/^$|^HTTP\/1\.1 4\d\d\b/) });
      }
    }

    it.each(MALFORMED_TARGETS)('answers GET %s on a gateway with a port of its own, and keeps serving', async (target) => {
      const answer = await rawUpgrade(gatewayPort, target);
      await settleTurns();
      expect(faults.describe()).toEqual([]);
      expectRefusedAnswer(answer, target);
      await expectServing(`port-${adapter}-${kind}-${MALFORMED_TARGETS.indexOf(target)}`);
      expect(faults.describe()).toEqual([]);
    });

    it('answers GET //[ on the app’s own server, and keeps serving', async () => {
      const port = Number(new URL(t.url).port);
      const answer = await rawUpgrade(port, '//[');
      await settleTurns();
      expect(faults.describe()).toEqual([]);
      expect(answer.hung).toBe(false);
      // Nest's own upgrade listener (ws) answers 400; socket.io leaves a path it does not serve to close.
      expect(statusLine(answer)).toMatch(kind === 'ws' ? /^HTTP\/1\.1 400\b/ : /^$|^HTTP\/1\.1 4\d\d\b/);
      await expectServing(`app-${adapter}-${kind}`);
      expect(faults.describe()).toEqual([]);
    });
  });
});
