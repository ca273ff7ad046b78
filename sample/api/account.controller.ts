import { BadRequestException, Body, Controller, HttpCode, Post, UnauthorizedException } from '@nestjs/common';
import { Connected, CurrentUser, SessionService } from 'nestjs-connected';
import { UsersService } from '../users.js';

/** How recent the password must be to change it, in seconds (a real application: 5 to 15 minutes). */
export const FRESH_SECONDS = 60;

/**
 * The password change (ASVS 7.5.1, 7.4.3): it wants a password entered at most {@link FRESH_SECONDS} ago, else a
 * 401 `code: 'reauthenticate'` tells the page to ask for it again; once changed, every other session of the user ends.
 */
@Controller('api/account')
export class AccountController {
  constructor(
    private readonly sessions: SessionService,
    private readonly users: UsersService,
  ) {}

  /** The user proves who they are again: the session goes on under a new id, its token with it. */
  @Connected()
  @Post('reauthenticate')
  @HttpCode(200)
  async reauthenticate(@CurrentUser() user: string, @Body() body: { password?: unknown }) {
    if (this.users.check(user, body?.password) === undefined) throw new UnauthorizedException('Wrong password');
    await this.sessions.reauthenticate();
    return { ok: true, csrfToken: this.sessions.csrfToken() };
  }

  @Connected({ fresh: FRESH_SECONDS })
  @Post('password')
  @HttpCode(200)
  async changePassword(@CurrentUser() user: string, @Body() body: { password?: unknown }) {
    const password = body?.password;
    if (typeof password !== 'string' || password.length < 8 || password.length > 200) {
      throw new BadRequestException('The new password needs 8 to 200 characters');
    }
    this.users.setPassword(user, password);
    return { closed: await this.sessions.disconnectAll({ exceptCurrent: true }) };
  }
}
