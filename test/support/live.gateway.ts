import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { Connected, CurrentUser, SessionData, SessionKey, SessionService } from '../../lib/index.js';

/** A persisted session-scoped note, shared by HTTP and sockets. */
export const NOTE = new SessionKey<string>('live-note', { persist: true });
/** A process-scoped counter (one per socket / tab). */
export const TAB_COUNT = new SessionKey<number>('live-tab-count', { scope: 'process' });

/**
 * The gateway the socket specs share; every handler answers `{ event, data }` with its own event name:
 * - `whoami` (@Connected) → `{ user }`; `admin` (@Connected allow admin, deny banned) → `{ ok: true }`
 * - `maybe` (@Connected optional) → `{ user }` or null; `public` (no guard) → `{ user }` from SessionService
 * - `note` (@Connected) → `{ note }` from @SessionData; `set-note` (@Connected) sets it → `{ ok: true }`
 * - `tab` (@Connected) increments the process counter → `{ count }`
 * - `logout` (@Connected) → disconnect() → `{ ok: true }`; `boom` throws; `boom-async` rejects
 */
@WebSocketGateway()
export class LiveGateway {
  constructor(private readonly sessions: SessionService) {}

  @Connected()
  @SubscribeMessage('whoami')
  whoami(@CurrentUser() user: string) {
    return { event: 'whoami', data: { user } };
  }

  @Connected({ allow: ['admin'], deny: ['banned'] })
  @SubscribeMessage('admin')
  admin() {
    return { event: 'admin', data: { ok: true } };
  }

  @Connected({ optional: true })
  @SubscribeMessage('maybe')
  maybe(@CurrentUser() user: string | undefined) {
    return { event: 'maybe', data: { user: user ?? null } };
  }

  @SubscribeMessage('public')
  open() {
    return { event: 'public', data: { user: this.sessions.currentUserId() ?? null } };
  }

  @Connected()
  @SubscribeMessage('note')
  note(@SessionData(NOTE) note: string | undefined) {
    return { event: 'note', data: { note: note ?? null } };
  }

  @Connected()
  @SubscribeMessage('set-note')
  async setNote(@MessageBody() body: { note: string }) {
    await this.sessions.set(NOTE, body.note);
    return { event: 'set-note', data: { ok: true } };
  }

  @Connected()
  @SubscribeMessage('tab')
  async tab() {
    const count = ((await this.sessions.get(TAB_COUNT)) ?? 0) + 1;
    await this.sessions.set(TAB_COUNT, count);
    return { event: 'tab', data: { count } };
  }

  @Connected()
  @SubscribeMessage('logout')
  async logout() {
    await this.sessions.disconnect();
    return { event: 'logout', data: { ok: true } };
  }

  @SubscribeMessage('boom')
  boom(): never {
    throw new Error('handler exploded');
  }

  @SubscribeMessage('boom-async')
  async boomAsync(): Promise<never> {
    throw new Error('async handler exploded');
  }
}
