import { Body, Controller, Post } from '@nestjs/common';
import { Connected, SessionService } from '../../lib/index.js';

/**
 * Routes that close sessions from outside the session they close (the socket revocation specs):
 * - `POST /disconnect-all` (@Connected): `disconnectAll()` of the current user → `{ closed }`, how many sessions
 * - `POST /disconnect-user {user}` (no guard): `disconnectAll({ userId })`, as an admin tool would → `{ closed }`
 * - `POST /disconnect-user-kept {user}` (no guard): the same with `userIndep: false` (browsers keep their data)
 */
@Controller()
export class RevocationController {
  constructor(private readonly sessions: SessionService) {}

  @Connected()
  @Post('disconnect-all')
  async disconnectAll() {
    return { closed: await this.sessions.disconnectAll() };
  }

  @Post('disconnect-user')
  async disconnectUser(@Body() body: { user: string }) {
    return { closed: await this.sessions.disconnectAll({ userId: body.user }) };
  }

  @Post('disconnect-user-kept')
  async disconnectUserKept(@Body() body: { user: string }) {
    return { closed: await this.sessions.disconnectAll({ userId: body.user, userIndep: false }) };
  }
}
