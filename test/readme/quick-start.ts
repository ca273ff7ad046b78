import { Body, Controller, Get, Injectable, Module, Post, UnauthorizedException } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { Connected, CurrentUser, SessionData, SessionKey, SessionModule, SessionService } from 'nestjs-connected';

const CART = new SessionKey<string[]>('cart', { scope: 'browser', persist: true });

@Injectable()
export class UsersService {
  // Your user store and password check (compare hashes in constant time); a fixed table here.
  private readonly users = new Map([['alice', { id: 'alice', password: 'alice-password', groups: ['admin'] }]]);

  async check(name: string, password: string): Promise<{ id: string } | undefined> {
    const user = this.users.get(name);
    return user?.password === password ? { id: user.id } : undefined;
  }

  async groupsOf(userId: string): Promise<string[]> {
    return this.users.get(userId)?.groups ?? [];
  }

  async setPassword(userId: string, password: string): Promise<void> {
    const user = this.users.get(userId);
    if (user) user.password = password;
  }
}

@Module({ providers: [UsersService], exports: [UsersService] })
export class UsersModule {}

@Controller()
export class AuthController {
  constructor(
    private readonly sessions: SessionService,
    private readonly users: UsersService,
  ) {}

  @Post('login')
  async login(@Body() body: { user: string; password: string }) {
    const user = await this.users.check(body.user, body.password); // your authentication
    if (!user) throw new UnauthorizedException();
    await this.sessions.connect(user.id); // new session, new cookie
    return { ok: true };
  }

  @Post('logout')
  async logout() {
    await this.sessions.disconnect();
    return { ok: true };
  }

  @Connected()
  @Get('me')
  me(@CurrentUser() userId: string, @SessionData(CART) cart?: string[]) {
    return { userId, cart: cart ?? [] };
  }

  @Connected({ allow: ['admin'] })
  @Get('admin')
  admin(@CurrentUser() userId: string) {
    return { admin: userId };
  }
}

@Module({
  imports: [
    UsersModule,
    SessionModule.forRootAsync({
      imports: [ConfigModule.forRoot(), UsersModule],
      inject: [ConfigService, UsersService],
      useFactory: (config: ConfigService, users: UsersService) => ({
        secret: config.getOrThrow<string>('SESSION_SECRET'), // at least 32 characters
        groups: (userId) => users.groupsOf(userId), // for @Connected({ allow, deny })
      }),
    }),
  ],
  controllers: [AuthController],
})
export class AppModule {}
