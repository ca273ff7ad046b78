import { Body, Controller, Get, Param, Post } from '@nestjs/common';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { Connected, CurrentUser, SessionService, type ImpersonationOptions } from '../../lib/index.js';

/**
 * The app of the impersonation specs (issue 13). Users are named by their group: `support-*` may impersonate,
 * `admin-*` may never be impersonated, anyone else is a plain user.
 */
export const IMPERSONATION_GROUPS = (user: string): string[] =>
  user.startsWith('support') ? ['support'] : user.startsWith('admin') ? ['admin'] : [];

/** `policy.impersonation` of the specs, with the `maxDuration` a spec needs. */
export function impersonationPolicy(maxDuration?: number): { groups: typeof IMPERSONATION_GROUPS; impersonation: ImpersonationOptions } {
  return {
    groups: IMPERSONATION_GROUPS,
    impersonation: { allow: ['support'], deny: ['admin'], ...(maxDuration === undefined ? {} : { maxDuration }) },
  };
}

/**
 * - `POST /impersonate {user}` (@Connected): `impersonate(user)` → `{ ok: true }`; `POST /impersonate-unguarded` the
 *   same without a guard
 * - `POST /stop-impersonating` (no guard): `stopImpersonating()` → `{ ok: true }`
 * - `GET /whoami` (@Connected) → `{ user, actor }`: `currentUserId()` (through `@CurrentUser()`) and `actorId()` or null
 * - `GET /fresh` (@Connected fresh 60 s) → `{ user }`; `POST /reauthenticate` (@Connected): `reauthenticate()`
 * - `POST /disconnect-all {userId}` (no guard; an operator's action): `disconnectAll({ userId })` → `{ closed }`
 * - `GET /sessions-of/:user` (no guard; an operator's view) → `listSessions(user)`
 */
@Controller()
export class ImpersonationController {
  constructor(private readonly sessions: SessionService) {}

  @Connected()
  @Post('impersonate')
  async impersonate(@Body() body: { user: string }) {
    await this.sessions.impersonate(body.user);
    return { ok: true };
  }

  @Post('impersonate-unguarded')
  async impersonateUnguarded(@Body() body: { user: string }) {
    await this.sessions.impersonate(body.user);
    return { ok: true };
  }

  @Post('stop-impersonating')
  async stop() {
    await this.sessions.stopImpersonating();
    return { ok: true };
  }

  @Connected()
  @Get('whoami')
  whoami(@CurrentUser() user: string) {
    return { user, current: this.sessions.currentUserId(), actor: this.sessions.actorId() ?? null };
  }

  @Connected({ fresh: 60 })
  @Get('fresh')
  fresh(@CurrentUser() user: string) {
    return { user };
  }

  @Connected()
  @Post('reauthenticate')
  async reauthenticate() {
    await this.sessions.reauthenticate();
    return { ok: true };
  }

  @Post('disconnect-all')
  async disconnectAll(@Body() body: { userId: string }) {
    return { closed: await this.sessions.disconnectAll({ userId: body.userId }) };
  }

  @Get('sessions-of/:user')
  sessionsOf(@Param('user') user: string) {
    return this.sessions.listSessions(user);
  }
}

/** Socket message `whoami` (@Connected) → `{ user, actor }`, as `GET /whoami`. */
@WebSocketGateway()
export class ImpersonationGateway {
  constructor(private readonly sessions: SessionService) {}

  @Connected()
  @SubscribeMessage('whoami')
  whoami(@CurrentUser() user: string) {
    return { event: 'whoami', data: { user, actor: this.sessions.actorId() ?? null } };
  }
}
