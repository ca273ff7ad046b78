/**
 * The WebSocket benchmark's server (Express + socket.io), run with `--expose-gc`. BENCH_WS_MODE:
 *
 * - `connected`: nestjs-connected on its MemoryStore, `SessionIoAdapter` (every socket needs a logged-in cookie),
 *   a gateway with an unguarded `open` handler and a `@Connected()` `guarded` one; `POST /login?user=` logs in.
 * - `plain`: Nest's own `IoAdapter`, no sessions, the same two handlers (`guarded` unguarded): the floor.
 *
 * Both answer the `heap` query on stdin (heapUsed + arrayBuffers after gc; support/children.ts `answerQueries`).
 * Prints `BENCH_READY {"port":…}`.
 */
import 'reflect-metadata';
import { Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { Connected, CurrentUser, MemoryStore } from 'nestjs-connected';
import { SessionIoAdapter } from 'nestjs-connected/socket.io';
import { announce, answerQueries, exitWithParent, READY } from '../support/children.js';
import { CeilingModule } from './ceiling.js';
import { connectedModule } from './connected.js';

/**
 * The connected gateway's two handlers, without the guard: Nest binds every handler to every socket (about 4 KB a
 * socket each, RxJS chains and listeners), so a floor with fewer handlers would count that as the library's.
 */
@WebSocketGateway()
class PlainGateway {
  @SubscribeMessage('open')
  open(@MessageBody() n: number) {
    return n;
  }

  @SubscribeMessage('guarded')
  guarded(@MessageBody() n: number) {
    return n;
  }
}

@WebSocketGateway()
class ConnectedGateway {
  @SubscribeMessage('open')
  open(@MessageBody() n: number) {
    return n;
  }

  @Connected()
  @SubscribeMessage('guarded')
  guarded(@MessageBody() n: number, @CurrentUser() user: string) {
    return user === undefined ? -1 : n;
  }
}

function appModule(mode: 'plain' | 'connected'): DynamicModule {
  const sessions = mode === 'connected' ? connectedModule(new MemoryStore()) : { module: CeilingModule };
  @Module({
    imports: [sessions],
    providers: [mode === 'connected' ? ConnectedGateway : PlainGateway],
  })
  class SocketBenchModule {}
  return { module: SocketBenchModule };
}

async function main(): Promise<void> {
  const mode = process.env['BENCH_WS_MODE'];
  if (mode !== 'plain' && mode !== 'connected') throw new Error("BENCH_WS_MODE must be 'plain' or 'connected'");
  const app = await NestFactory.create(appModule(mode), new ExpressAdapter(), { logger: false });
  app.useWebSocketAdapter(mode === 'connected' ? new SessionIoAdapter(app) : new IoAdapter(app));
  exitWithParent(() => app.close());
  answerQueries();
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  announce(READY, { mode, port: address.port, pid: process.pid });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
