import { Body, Controller, Delete, Get, Header, HttpCode, Param, Post, UnauthorizedException } from '@nestjs/common';
import { Connected, CurrentUser, SessionService } from 'nestjs-connected';
import { UsersService } from '../users.js';

/**
 * Login, logout and the user's sessions, as JSON: what the pages' forms post to (through public/app.js, which adds
 * the CSRF token) and what curl or a script calls.
 */
@Controller('api')
export class AuthController {
  constructor(
    private readonly sessions: SessionService,
    private readonly users: UsersService,
  ) {}

  /** The CSRF token of this browser's session, as text (for curl and scripts; the pages carry theirs). */
  @Get('csrf')
  @Header('Content-Type', 'text/plain; charset=utf-8')
  csrf() {
    return this.sessions.csrfToken();
  }

  /** Checks the demo password, then hands the user to the session library. */
  @Post('login')
  @HttpCode(200)
  async login(@Body() body: { user?: unknown; password?: unknown; remember?: unknown }) {
    const user = this.users.check(body?.user, body?.password);
    if (user === undefined) throw new UnauthorizedException('Unknown user or wrong password');
    // Without "remember me" the cookie lasts as long as the browser.
    await this.sessions.connect(user.id, { expire: body.remember !== true });
    return { user: user.id, csrfToken: this.sessions.csrfToken() };
  }

  @Post('logout')
  @HttpCode(200)
  async logout() {
    await this.sessions.disconnect();
    return { ok: true, csrfToken: this.sessions.csrfToken() };
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

  /** Revokes one of the user's own sessions (the handle comes from GET /api/sessions). */
  @Connected()
  @Delete('sessions/:handle')
  async revoke(@CurrentUser() user: string, @Param('handle') handle: string) {
    const own = await this.sessions.listSessions(user);
    if (!own.some((session) => session.handle === handle)) return { revoked: false };
    await this.sessions.revoke(handle);
    return { revoked: true };
  }
}
