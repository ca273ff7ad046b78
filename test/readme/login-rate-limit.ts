import { Body, Controller, Module, Post, UnauthorizedException, UseGuards } from '@nestjs/common';
import { ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import { SessionService } from 'nestjs-connected';
import { UsersModule, UsersService } from './quick-start.js';

@Controller()
export class RateLimitedLoginController {
  constructor(
    private readonly sessions: SessionService,
    private readonly users: UsersService,
  ) {}

  // Five attempts a minute per client address, right or wrong: the sixth is a 429 before the password is checked.
  @UseGuards(ThrottlerGuard)
  @Post('login')
  async login(@Body() body: { user: string; password: string }) {
    const user = await this.users.check(body.user, body.password);
    if (!user) throw new UnauthorizedException();
    await this.sessions.connect(user.id);
    return { ok: true };
  }
}

@Module({
  // The guard is on the login route only: other routes are not counted.
  imports: [UsersModule, ThrottlerModule.forRoot([{ limit: 5, ttl: 60_000 }])],
  controllers: [RateLimitedLoginController],
})
export class LoginRateLimitModule {}
