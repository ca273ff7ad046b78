import { Body, Controller, Post, UnauthorizedException } from '@nestjs/common';
import { Connected, CurrentUser, SessionService } from 'nestjs-connected';
import { UsersService } from './quick-start.js';

@Controller('account')
export class AccountController {
  constructor(
    private readonly sessions: SessionService,
    private readonly users: UsersService,
  ) {}

  @Connected()
  @Post('reauthenticate')
  async reauthenticate(@CurrentUser() userId: string, @Body() body: { password: string }) {
    if (!(await this.users.check(userId, body.password))) throw new UnauthorizedException();
    await this.sessions.reauthenticate(); // new id and cookie, same user and data
    return { ok: true };
  }

  @Connected({ fresh: 300 }) // the password, at most 5 minutes ago
  @Post('password')
  async changePassword(@CurrentUser() userId: string, @Body() body: { password: string }) {
    await this.users.setPassword(userId, body.password);
    return { closed: await this.sessions.disconnectAll({ exceptCurrent: true }) }; // every other device
  }
}
