import { Body, Controller, Get, Post } from '@nestjs/common';
import { Connected, CurrentUser, SessionService } from '../../lib/index.js';

/**
 * The connected user's list of sessions:
 * - `GET /sessions` (@Connected) → `listSessions(user)`
 * - `POST /revoke {handle}` (@Connected): `revoke(handle)` → `{ ok: true }`
 */
@Controller()
export class SessionsController {
  constructor(private readonly sessions: SessionService) {}

  @Connected()
  @Get('sessions')
  list(@CurrentUser() user: string) {
    return this.sessions.listSessions(user);
  }

  @Connected()
  @Post('revoke')
  async revoke(@Body() body: { handle: string }) {
    await this.sessions.revoke(body.handle);
    return { ok: true };
  }
}
