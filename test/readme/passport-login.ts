import { Controller, Injectable, Module, Post, Req, UnauthorizedException, UseGuards } from '@nestjs/common';
import { AuthGuard, PassportModule, PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-local';
import { SessionService } from 'nestjs-connected';
import { UsersModule, UsersService } from './quick-start.js';

@Injectable()
export class LocalStrategy extends PassportStrategy(Strategy) {
  constructor(private readonly users: UsersService) {
    super({ usernameField: 'user' });
  }

  async validate(user: string, password: string): Promise<{ id: string }> {
    const found = await this.users.check(user, password);
    if (!found) throw new UnauthorizedException();
    return found; // becomes req.user for this request only
  }
}

@Controller()
export class PassportLoginController {
  constructor(private readonly sessions: SessionService) {}

  // AuthGuard('local') checks the credentials; connect() is the login. Not `super.logIn(req)`: that is Passport's
  // own session, which needs express-session.
  @UseGuards(AuthGuard('local'))
  @Post('login')
  async login(@Req() request: { user: { id: string } }) {
    await this.sessions.connect(request.user.id);
    return { ok: true };
  }
}

@Module({
  imports: [PassportModule, UsersModule],
  providers: [LocalStrategy],
  controllers: [PassportLoginController],
})
export class PassportLoginModule {}
