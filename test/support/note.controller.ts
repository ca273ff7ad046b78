import { Body, Controller, Get, Post } from '@nestjs/common';
import { Connected, CurrentUser, SessionKey, SessionService } from '../../lib/index.js';

/** A persisted session-scoped value: it goes with its session. (Key names are global: this one is 'support.note'.) */
export const NOTE = new SessionKey<string>('support.note', { persist: true });

/**
 * A note kept with the session in {@link NOTE}. Its `GET /me` replaces AuthController's: use it with LoginController.
 * - `GET /me` (@Connected) → `{ user, note }`, the note or null
 * - `POST /note {note}` (@Connected): sets the note → `{ ok: true }`
 */
@Controller()
export class NoteController {
  constructor(private readonly sessions: SessionService) {}

  @Connected()
  @Get('me')
  async me(@CurrentUser() user: string) {
    return { user, note: (await this.sessions.get(NOTE)) ?? null };
  }

  @Connected()
  @Post('note')
  async note(@Body() body: { note: string }) {
    await this.sessions.set(NOTE, body.note);
    return { ok: true };
  }
}
