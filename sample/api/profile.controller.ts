import { Controller, Get } from '@nestjs/common';
import { Connected, CurrentUser, SessionData, SessionService } from 'nestjs-connected';
import { VISITS } from '../keys.js';
import { groupsOf } from '../users.js';

@Controller('api')
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
      pages: 'open / in a browser',
      try: [
        'GET /api/csrf   (the token for the x-csrf-token header of every POST and DELETE that carries the cookie)',
        'POST /api/cart {"item":"tea"}   (before login: browser data)',
        'POST /api/login {"user":"alice","password":"alice-password"}',
        'GET /api/profile, GET /api/admin, GET /api/cart, GET /api/sessions, GET /api/live (SSE)',
        'POST /api/logout, POST /api/logout-everywhere, DELETE /api/sessions/:handle',
        'POST /api/account/reauthenticate {"password"}, POST /api/account/password {"password"}',
      ],
    };
  }
}
