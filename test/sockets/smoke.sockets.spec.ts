import { ADAPTERS, startApp, type TestApp } from '../support/app.js';
import { AuthController } from '../support/auth.controller.js';
import { Browser } from '../support/browser.js';
import { LiveGateway } from '../support/live.gateway.js';
import { openSocket, Refused, sessionSockets, SOCKET_KINDS } from '../support/sockets.js';

describe.each(ADAPTERS)('sockets smoke on %s', (adapter) => {
  describe.each(SOCKET_KINDS)('%s', (kind) => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp({ adapter, controllers: [AuthController], providers: [LiveGateway], configure: sessionSockets(kind) });
    });
    afterAll(() => t.close());

    it('refuses a handshake without a cookie', async () => {
      await expect(openSocket(kind, t.url)).rejects.toMatchObject({ code: 'unauthenticated' });
      await expect(openSocket(kind, t.url)).rejects.toBeInstanceOf(Refused);
    });

    it('serves a connected socket and closes it on logout', async () => {
      const browser = new Browser(t.url);
      await browser.request('POST', '/login', { body: { user: 'ann' } });
      const socket = await openSocket(kind, t.url, { cookie: browser.cookieHeader() });
      expect(await socket.request('whoami')).toEqual({ event: 'whoami', data: { user: 'ann' } });
      expect(await socket.request('public')).toEqual({ event: 'public', data: { user: 'ann' } });
      expect((await socket.request('admin')).data).toMatchObject({ code: 'forbidden' });
      await socket.request('set-note', { note: 'hi' });
      expect((await browser.request('GET', '/me')).status).toBe(200);
      expect(await socket.request('note')).toEqual({ event: 'note', data: { note: 'hi' } });
      expect((await socket.request('tab')).data).toEqual({ count: 1 });
      expect((await socket.request('tab')).data).toEqual({ count: 2 });
      await browser.request('POST', '/logout');
      const ended = await socket.ended;
      expect(ended.reason).toBe('session_closed');
      if (kind === 'ws') expect(ended.code).toBe(4401);
    });
  });
});
