import { Controller, Get } from '@nestjs/common';
import { Connected, CurrentUser, SessionData, SessionService } from 'nestjs-connected';
import { VISITS } from './keys.js';
import { groupsOf } from './users.js';

@Controller()
export class ProfileController {
  constructor(private readonly sessions: SessionService) {}

  @Connected()
  @Get('profile')
  async profile(@CurrentUser() user: string, @SessionData(VISITS) visits: number | undefined) {
    const count = (visits ?? 0) + 1;
    await this.sessions.set(VISITS, count);
    return { user, groups: groupsOf(user), visitsThisLogin: count };
  }

  /** Admins only; a banned admin is refused too (deny wins). */
  @Connected({ allow: ['admin'], deny: ['banned'] })
  @Get('admin')
  admin(@CurrentUser() user: string) {
    return { user, secret: 'the admin area' };
  }

  /** Works for everyone; greets the user when there is one. */
  @Connected({ optional: true })
  @Get()
  home(@CurrentUser() user: string | undefined) {
    return {
      hello: user ?? 'stranger',
      try: [
        'POST /cart {"item":"tea"}   (before login: browser data)',
        'POST /login {"user":"alice","password":"alice-password"}',
        'GET /profile, GET /admin, GET /cart, GET /sessions',
        'POST /logout, POST /logout-everywhere, DELETE /sessions/:handle',
      ],
    };
  }
}
