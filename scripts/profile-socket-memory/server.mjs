// The server child of scripts/profile-socket-memory.mjs: the bench's socket server (bench/servers/socket-server.ts)
// without its build step, answering `heap` and `snapshot` over IPC.
import { writeHeapSnapshot } from 'node:v8';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const SECRET = 'profile-secret-0123456789-abcdefghijklmnopqrstu';

const decorate = (decorators, target, key) =>
  Reflect.decorate(decorators, target, key, key === undefined ? undefined : Object.getOwnPropertyDescriptor(target, key));

/** The app of `mode` (plain, plain2 or connected), listening on a free port of 127.0.0.1; IPC answers until killed. */
export async function serve(mode, libDir) {
  await import('reflect-metadata');
  const { Module, Controller, Post, HttpCode, Query, Inject } = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const { ExpressAdapter } = await import('@nestjs/platform-express');
  const { IoAdapter } = await import('@nestjs/platform-socket.io');
  const { MessageBody, SubscribeMessage, WebSocketGateway } = await import('@nestjs/websockets');

  class Gateway {
    open(n) {
      return n;
    }
    guarded(n, user) {
      return user === undefined && mode === 'connected' ? -1 : n;
    }
  }
  MessageBody()(Gateway.prototype, 'open', 0);
  decorate([SubscribeMessage('open')], Gateway.prototype, 'open');
  const imports = [];
  const controllers = [];
  let adapter = (app) => new IoAdapter(app);
  if (mode === 'plain2' || mode === 'connected') {
    MessageBody()(Gateway.prototype, 'guarded', 0);
    decorate([SubscribeMessage('guarded')], Gateway.prototype, 'guarded');
  }
  if (mode === 'connected') {
    const lib = await import(pathToFileURL(resolve(libDir, 'index.js')).href);
    const { SessionIoAdapter } = await import(pathToFileURL(resolve(libDir, 'transports/socket-io/session-io.adapter.js')).href);
    const { Connected, CurrentUser, SessionModule, SessionService, MemoryStore } = lib;
    CurrentUser()(Gateway.prototype, 'guarded', 1);
    decorate([Connected()], Gateway.prototype, 'guarded');
    class LoginController {
      constructor(sessions) {
        this.sessions = sessions;
      }
      async login(user) {
        await this.sessions.connect(user);
        return { ok: true };
      }
    }
    Inject(SessionService)(LoginController, undefined, 0);
    Query('user')(LoginController.prototype, 'login', 0);
    decorate([Post('login'), HttpCode(200)], LoginController.prototype, 'login');
    decorate([Controller()], LoginController);
    controllers.push(LoginController);
    imports.push(
      SessionModule.forRoot({
        secret: SECRET,
        store: new MemoryStore(),
        cookie: { name: 'sid', path: '/', sameSite: 'lax', secure: false },
      }),
    );
    adapter = (app) => new SessionIoAdapter(app);
  } else if (mode !== 'plain' && mode !== 'plain2') {
    throw new Error(`unknown mode '${mode}'`);
  }
  decorate([WebSocketGateway()], Gateway);
  class ProfileModule {}
  decorate([Module({ imports, controllers, providers: [Gateway] })], ProfileModule);

  const app = await NestFactory.create(ProfileModule, new ExpressAdapter(), { logger: false });
  app.useWebSocketAdapter(adapter(app));
  await app.listen(0, '127.0.0.1');
  process.on('message', (query) => {
    for (let i = 0; i < 4; i++) globalThis.gc();
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    // After the figure: writing a snapshot allocates.
    if (query.type === 'snapshot') writeHeapSnapshot(query.file);
    process.send({ bytes: heapUsed + arrayBuffers });
  });
  process.send({ port: app.getHttpServer().address().port });
}
