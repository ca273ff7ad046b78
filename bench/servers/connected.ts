import { Controller, Get, HttpCode, Module, Post, Query, type DynamicModule } from '@nestjs/common';
import { Connected, SessionData, SessionKey, SessionModule, SessionService, type SessionStore } from 'nestjs-connected';
import { COOKIE, COOKIE_NAME, DEFAULT_USER, SECRET } from './shared.js';

/** The per-session counter: session scope, persisted in the store (as express-session keeps it in its record). */
export const COUNTER = new SessionKey<number>('counter', { persist: true });

@Controller()
class ConnectedController {
  constructor(private readonly sessions: SessionService) {}

  @Post('login')
  @HttpCode(200)
  async login(@Query('user') user?: string) {
    await this.sessions.connect(user ?? DEFAULT_USER);
    await this.sessions.set(COUNTER, 0);
    return { ok: true };
  }

  @Connected()
  @Get('read')
  read(@SessionData(COUNTER) counter?: number) {
    return { counter };
  }

  @Connected()
  @Post('write')
  @HttpCode(200)
  async write(@SessionData(COUNTER) counter?: number) {
    const next = (counter ?? 0) + 1;
    await this.sessions.set(COUNTER, next);
    return { counter: next };
  }
}

/** nestjs-connected on `store`, with the cookie settings every variant shares; other options are the defaults. */
export function connectedModule(store: SessionStore): DynamicModule {
  @Module({
    imports: [
      SessionModule.forRoot({
        secret: SECRET,
        store,
        cookie: { name: COOKIE_NAME, path: COOKIE.path, sameSite: COOKIE.sameSite, secure: COOKIE.secure },
      }),
    ],
    controllers: [ConnectedController],
  })
  class ConnectedAppModule {}
  return { module: ConnectedAppModule };
}
