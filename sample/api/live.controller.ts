import { Controller, Sse, type MessageEvent } from '@nestjs/common';
import { Connected, CurrentUser, SessionService, type SessionEvent, type SessionEventType } from 'nestjs-connected';
import { filter, map, Observable, startWith } from 'rxjs';

/** The events the live panel shows: what happens to the user's sessions, not every request. */
const SHOWN: ReadonlySet<SessionEventType> = new Set([
  'open-session',
  'post-close-session',
  'session-expired',
  'reauthenticated',
  'denied-request',
]);

/** One line of the live panel. */
export interface LiveLine {
  type: SessionEventType | 'watching';
  at: string;
  reason?: string;
  /** The event is about the session of this stream (else another of the user's sessions). */
  here: boolean;
  /** An admin acting as the user did it. */
  actor?: string;
}

/**
 * The live panel's stream (every private page opens it with an EventSource): the user's session events as they
 * happen. The stream is a client of its session, so when the session closes, from this page or from anywhere
 * else, the library sends a last `session_end` event and ends it; the page then goes to the login page.
 */
@Controller('api')
export class LiveController {
  constructor(private readonly sessions: SessionService) {}

  @Connected()
  @Sse('live')
  async live(@CurrentUser() user: string): Promise<Observable<MessageEvent>> {
    let mine = (await this.sessions.listSessions(user)).find((session) => session.current)?.handle;
    const start: LiveLine = { type: 'watching', at: new Date().toISOString(), here: true };
    return this.sessions.sessionEvents$.pipe(
      filter((event) => event.userId === user && SHOWN.has(event.type)),
      map((event: SessionEvent): MessageEvent => {
        if (event.type === 'reauthenticated' && event.previousSession === mine) mine = event.session;
        const line: LiveLine = { type: event.type, at: event.at.toISOString(), here: event.session === mine };
        if ('reason' in event) line.reason = event.reason;
        if (event.actorId !== undefined) line.actor = event.actorId;
        return { data: line };
      }),
      startWith({ data: start }),
    );
  }
}
