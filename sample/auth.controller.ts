import { Body, Controller, Delete, Get, HttpCode, Param, Post, UnauthorizedException } from '@nestjs/common';
import { Connected, CurrentUser, SessionService } from 'nestjs-connected';
import { findUser } from './users.js';

@Controller()
export class AuthController {
  constructor(private readonly sessions: SessionService) {}

  /** Checks the demo password, then hands the user to the session library. */
  @Post('login')
  @HttpCode(200)
  async login(@Body() body: { user?: unknown; password?: unknown; remember?: unknown }) {
    const user = findUser(body?.user, body?.password);
    if (user === undefined) throw new UnauthorizedException('Unknown user or wrong password');
    await this.sessions.connect(user.id, { expire: body.remember === false });
    return { user: user.id };
  }

  @Post('logout')
  @HttpCode(200)
  async logout() {
    await this.sessions.disconnect();
    return { ok: true };
  }

  /** Closes every session of the user, on every browser and device. */
  @Connected()
  @Post('logout-everywhere')
  @HttpCode(200)
  async logoutEverywhere() {
    return { closed: await this.sessions.disconnectAll() };
  }

  @Connected()
  @Get('sessions')
  sessionsOf(@CurrentUser() user: string) {
    return this.sessions.listSessions(user);
  }

  /** Revokes one of the user's own sessions (the handle comes from GET /sessions). */
  @Connected()
  @Delete('sessions/:handle')
  async revoke(@CurrentUser() user: string, @Param('handle') handle: string) {
    const own = await this.sessions.listSessions(user);
    if (!own.some((session) => session.handle === handle)) return { revoked: false };
    await this.sessions.revoke(handle);
    return { revoked: true };
  }
}
