import { Body, Controller, Get, Post } from '@nestjs/common';
import { Connected, CurrentUser, SessionService } from '../../lib/index.js';

/**
 * The sign-in routes the e2e specs share, without a GET /me (for specs that bring a /me of their own):
 * - `POST /login {user, expire?}`: `connect(user)` (with `{ expire }` when the body has it) → `{ ok: true }`
 * - `POST /logout`: `disconnect()`, no guard → `{ ok: true }`
 * - `GET /public`: no guard → `{ user }`, the current user id or null
 */
@Controller()
export class LoginController {
  constructor(protected readonly sessions: SessionService) {}

  @Post('login')
  async login(@Body() body: { user: string; expire?: boolean }) {
    await this.sessions.connect(body.user, body.expire === undefined ? undefined : { expire: body.expire });
    return { ok: true };
  }

  @Post('logout')
  async logout() {
    await this.sessions.disconnect();
    return { ok: true };
  }

  @Get('public')
  open() {
    return { user: this.sessions.currentUserId() ?? null };
  }
}

/** The routes of {@link LoginController} (POST /login, POST /logout, GET /public) and `GET /me` (@Connected) → `{ user }`. */
@Controller()
export class AuthController extends LoginController {
  @Connected()
  @Get('me')
  me(@CurrentUser() user: string) {
    return { user };
  }
}
