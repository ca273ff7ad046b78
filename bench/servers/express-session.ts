import {
  Controller,
  Get,
  HttpCode,
  Injectable,
  Module,
  Post,
  Query,
  Req,
  UnauthorizedException,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { RedisStore } from 'connect-redis';
import type { Request } from 'express';
import session from 'express-session';
import { createClient } from 'redis';
import { COOKIE, COOKIE_NAME, DEFAULT_USER, SECRET } from './shared.js';

declare module 'express-session' {
  interface SessionData {
    userId: string;
    counter: number;
  }
}

/** 401 without a logged-in session, as `@Connected()` does. */
@Injectable()
class LoggedInGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<Request>();
    if (request.session?.userId === undefined) throw new UnauthorizedException();
    return true;
  }
}

@Controller()
class ExpressSessionController {
  @Post('login')
  @HttpCode(200)
  login(@Req() request: Request, @Query('user') user?: string) {
    request.session.userId = user ?? DEFAULT_USER;
    request.session.counter = 0;
    return { ok: true };
  }

  @UseGuards(LoggedInGuard)
  @Get('read')
  read(@Req() request: Request) {
    return { counter: request.session.counter };
  }

  @UseGuards(LoggedInGuard)
  @Post('write')
  @HttpCode(200)
  write(@Req() request: Request) {
    const counter = (request.session.counter ?? 0) + 1;
    request.session.counter = counter;
    return { counter };
  }
}

@Module({ controllers: [ExpressSessionController], providers: [LoggedInGuard] })
export class ExpressSessionModule {}

/**
 * express-session in front of the app: its MemoryStore, or connect-redis on a node-redis client (connect-redis 10
 * speaks node-redis' API, not ioredis'). Resolves what to close at the end.
 */
export async function installExpressSession(app: NestExpressApplication, redisUrl: string | undefined): Promise<() => Promise<void>> {
  let store: session.Store | undefined;
  let close = async () => {};
  if (redisUrl !== undefined) {
    const client = createClient({ url: redisUrl });
    client.on('error', (error: unknown) => console.error('node-redis:', error));
    await client.connect();
    store = new RedisStore({ client, prefix: 'bench-es:' });
    close = async () => {
      await client.quit().catch(() => undefined);
    };
  }
  app.use(
    session({
      name: COOKIE_NAME,
      secret: SECRET,
      resave: false,
      saveUninitialized: false,
      ...(store === undefined ? {} : { store }),
      cookie: { ...COOKIE },
    }),
  );
  return close;
}
