import { Body, Controller, Post } from '@nestjs/common';
import { SessionService } from 'nestjs-connected';

@Controller()
export class RememberMeController {
  constructor(private readonly sessions: SessionService) {}

  @Post('login')
  async login(@Body() body: { user: string; remember?: boolean }) {
    // (check the credentials first)
    // Unticked: a browser-session cookie, gone when the browser closes. Ticked: kept for `absoluteTimeout`.
    await this.sessions.connect(body.user, { expire: body.remember !== true });
    return { ok: true };
  }
}
