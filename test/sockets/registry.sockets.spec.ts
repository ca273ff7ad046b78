import { ADAPTERS, startApp, type TestApp } from '../support/app.js';
import { AuthController } from '../support/auth.controller.js';
import type { Browser } from '../support/browser.js';
import { ClientsController, ClientsGateway } from '../support/clients-gateway.js';
import { closeAndSettle, eventOf, handleOf, login, processIdFor, registryOf, settleTurns, SocketPool } from '../support/clients-helpers.js';
import { EventRecorder } from '../support/lifecycle-helpers.js';
import { sessionSockets, SOCKET_KINDS, type TestSocket } from '../support/sockets.js';

/**
 * The registry keeps a session's sockets in a small array and drops each socket's event chain once its events went
 * out (memory per socket): membership must behave as a set whatever socket leaves, and a chain left behind must not
 * hold a finished step.
 */
describe.each(ADAPTERS)('socket registry on %s', (adapter) => {
  describe.each(SOCKET_KINDS)('%s', (kind) => {
    let t: TestApp;
    let events: EventRecorder;
    const pool = new SocketPool(kind, () => t.url);
    let userCounter = 0;

    beforeAll(async () => {
      t = await startApp({
        adapter,
        controllers: [AuthController, ClientsController],
        providers: [ClientsGateway],
        configure: sessionSockets(kind),
      });
      events = new EventRecorder(t.app);
    });
    afterEach(() => pool.closeAll());
    afterAll(async () => {
      events.stop();
      await t.close();
    });

    async function socketOf(b: Browser): Promise<{ socket: TestSocket; process: string }> {
      const process = processIdFor('r', adapter, kind);
      const socket = await pool.open({ cookie: b.cookieHeader(), process });
      await eventOf(events, 'client-connected', process);
      // The chain is dropped in the turn its last step ends, just after the event went out.
      await settleTurns();
      return { socket, process };
    }

    /** The process ids of the session's clients in the registry, and whether any still holds an event chain. */
    function membersOf(handle: string): { processes: string[]; chains: number } {
      const clients = registryOf(t.app)
        .sessions()
        .find(([key]) => key === handle)?.[1];
      return {
        processes: (clients ?? []).map((client) => client.processId),
        chains: (clients ?? []).filter((client) => client.events !== undefined).length,
      };
    }

    it('the middle one of three sockets leaves: the other two stay members, and a logout closes both', async () => {
      const id = `registry-${adapter}-${kind}-${++userCounter}`;
      const b = await login(t.url, id);
      const handle = await handleOf(t.app, id);
      const first = await socketOf(b);
      const middle = await socketOf(b);
      const last = await socketOf(b);
      expect(registryOf(t.app).count(handle)).toBe(3);
      expect(membersOf(handle)).toEqual({ processes: [first.process, middle.process, last.process], chains: 0 });

      await closeAndSettle(middle.socket, events, middle.process);
      await settleTurns();
      expect(registryOf(t.app).count(handle)).toBe(2);
      expect(membersOf(handle)).toEqual({ processes: [first.process, last.process], chains: 0 });
      expect(first.socket.isOpen).toBe(true);
      expect(last.socket.isOpen).toBe(true);

      expect((await b.post('/logout')).status).toBe(201);
      expect((await first.socket.ended).reason).toBe('session_closed');
      expect((await last.socket.ended).reason).toBe('session_closed');
      await eventOf(events, 'client-disconnected', first.process);
      await eventOf(events, 'client-disconnected', last.process);
      expect(registryOf(t.app).count(handle)).toBe(0);
      expect(membersOf(handle)).toEqual({ processes: [], chains: 0 });
      const disconnected = events.events.filter((event) => event.type === 'client-disconnected' && event.session === handle);
      expect(disconnected.map((event) => ('process' in event ? event.process : undefined)).sort()).toEqual(
        [first.process, middle.process, last.process].sort(),
      );
    });
  });
});
