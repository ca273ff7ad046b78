import { BadRequestException, Body, Controller, HttpCode, Post } from '@nestjs/common';
import { Connected, SessionService } from 'nestjs-connected';
import { DEMO_USERS } from '../users.js';

/**
 * An admin acting as a user (`policy.impersonation` in app.module.ts: admins may, admins may not be acted as). The
 * pages show a banner while it lasts (pages/layout.ts); the user's own sessions page lists the session with its actor.
 */
@Controller('api/impersonation')
export class ImpersonationController {
  constructor(private readonly sessions: SessionService) {}

  /** The same groups as the admin page: the library checks `policy.impersonation.allow`, the guard keeps banned admins out. */
  @Connected({ allow: ['admin'], deny: ['banned'] })
  @Post()
  @HttpCode(200)
  async start(@Body() body: { user?: unknown }) {
    const target = DEMO_USERS.find((user) => user.id === body?.user);
    if (target === undefined) throw new BadRequestException('No such user');
    await this.sessions.impersonate(target.id);
    return { user: target.id, actor: this.sessions.actorId(), csrfToken: this.sessions.csrfToken() };
  }

  @Connected()
  @Post('stop')
  @HttpCode(200)
  async stop() {
    await this.sessions.stopImpersonating();
    return { user: this.sessions.currentUserId(), csrfToken: this.sessions.csrfToken() };
  }
}
