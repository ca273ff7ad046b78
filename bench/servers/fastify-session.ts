import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
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
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';
import { COOKIE, COOKIE_NAME, DEFAULT_USER, SECRET } from './shared.js';

declare module 'fastify' {
  interface Session {
    userId?: string;
    counter?: number;
  }
}

/** 401 without a logged-in session, as `@Connected()` does. */
@Injectable()
class LoggedInGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    if (request.session?.get('userId') === undefined) throw new UnauthorizedException();
    return true;
  }
}

@Controller()
class FastifySessionController {
  @Post('login')
  @HttpCode(200)
  login(@Req() request: FastifyRequest, @Query('user') user?: string) {
    request.session.set('userId', user ?? DEFAULT_USER);
    request.session.set('counter', 0);
    return { ok: true };
  }

  @UseGuards(LoggedInGuard)
  @Get('read')
  read(@Req() request: FastifyRequest) {
    return { counter: request.session.get('counter') };
  }

  @UseGuards(LoggedInGuard)
  @Post('write')
  @HttpCode(200)
  write(@Req() request: FastifyRequest) {
    const counter = (request.session.get('counter') ?? 0) + 1;
    request.session.set('counter', counter);
    return { counter };
  }
}

@Module({ controllers: [FastifySessionController], providers: [LoggedInGuard] })
export class FastifySessionModule {}

/**
 * @fastify/cookie + @fastify/session with its default (memory) store. `rolling: false`: its default `true` saves
 * every session and sends its cookie again on every response, which express-session (rolling false by default)
 * and nestjs-connected do not do; false makes the three do the same work per request.
 */
export async function installFastifySession(app: NestFastifyApplication): Promise<void> {
  await app.register(fastifyCookie as never);
  await app.register(fastifySession as never, {
    cookieName: COOKIE_NAME,
    secret: SECRET,
    saveUninitialized: false,
    rolling: false,
    cookie: { ...COOKIE },
  });
}
