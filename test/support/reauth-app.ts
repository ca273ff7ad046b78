import { Body, Controller, Get, Headers, HttpException, Post, Sse, UnauthorizedException, type MessageEvent } from '@nestjs/common';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { interval, map, type Observable } from 'rxjs';
import { Connected, CurrentUser, SessionKey, SessionService } from '../../lib/index.js';

/**
 * The app of the re-authentication specs (issue 13): `fresh`, `reauthenticate()` and `disconnectAll({ exceptCurrent })`.
 * Key names are global: these are 'reauth.*'.
 */

/** How fresh `GET /sensitive` wants the login, in seconds: small, so that a test waits it out. */
export const FRESH_SECONDS = 1;
/** Past {@link FRESH_SECONDS}, with a margin for a slow machine. */
export const STALE_AFTER_MS = FRESH_SECONDS * 1000 + 150;
/** Every test user's password, which the app checks again before `reauthenticate()`. */
export const PASSWORD = 'correct horse battery staple';

/** One key per scope and kind, so that a test sees every value that a re-authentication must carry. */
export const REAUTH_KEYS = {
  note: new SessionKey<string>('reauth.note', { persist: true }),
  memo: new SessionKey<string>('reauth.memo'),
  basket: new SessionKey<string>('reauth.basket', { scope: 'browser', persist: true }),
  scratch: new SessionKey<string>('reauth.scratch', { scope: 'browser' }),
  prefs: new SessionKey<string>('reauth.prefs', { scope: 'user', persist: true }),
  userMemo: new SessionKey<string>('reauth.user-memo', { scope: 'user' }),
  tab: new SessionKey<string>('reauth.tab', { scope: 'process' }),
};
type ValueName = keyof typeof REAUTH_KEYS;
const NAMES = Object.keys(REAUTH_KEYS) as ValueName[];

/** Groups for `GET /sensitive-admin`: root is an admin. */
export const REAUTH_GROUPS = (user: string): string[] => (user.startsWith('root') ? ['admin'] : []);

/**
 * - `POST /values {value}` (@Connected): every key of {@link REAUTH_KEYS} = `<name>:<value>` (the process-scoped
 *   one only with the `x-process-id` header, which it needs); `GET /values` (@Connected) → each value or null
 * - `GET /sensitive` (@Connected fresh) → `{ user }`; `GET /sensitive-admin` (@Connected fresh, allow admin)
 * - `POST /reauthenticate {password}` (@Connected): checks the password (401 `Wrong password`), then
 *   `reauthenticate()` → `{ ok: true }`; `POST /reauthenticate-unguarded` the same without a guard
 * - `POST /disconnect-others` (@Connected): `disconnectAll({ exceptCurrent: true })` → `{ closed }`
 * - `POST /try-disconnect-all {userId?, exceptCurrent?}` (no guard): `disconnectAll(body)` → `{ closed }`, or what
 *   it threw: `{ error, name, status }` (the status an HttpException has, 500 for anything else)
 */
@Controller()
export class ReauthController {
  constructor(private readonly sessions: SessionService) {}

  @Connected()
  @Post('values')
  async setValues(@Body() body: { value: string }, @Headers('x-process-id') tab?: string) {
    for (const name of NAMES) {
      if (name === 'tab' && tab === undefined) continue;
      await this.sessions.set(REAUTH_KEYS[name], `${name}:${body.value}`);
    }
    return { ok: true };
  }

  @Connected()
  @Get('values')
  async values(@Headers('x-process-id') tab?: string) {
    const values: Partial<Record<ValueName, string | null>> = {};
    for (const name of NAMES) {
      if (name === 'tab' && tab === undefined) continue;
      values[name] = (await this.sessions.get(REAUTH_KEYS[name])) ?? null;
    }
    return values;
  }

  @Connected({ fresh: FRESH_SECONDS })
  @Get('sensitive')
  sensitive(@CurrentUser() user: string) {
    return { user };
  }

  @Connected({ fresh: FRESH_SECONDS, allow: ['admin'] })
  @Get('sensitive-admin')
  sensitiveAdmin(@CurrentUser() user: string) {
    return { user };
  }

  @Connected()
  @Post('reauthenticate')
  async reauthenticate(@Body() body: { password?: string }) {
    if (body.password !== PASSWORD) throw new UnauthorizedException('Wrong password');
    await this.sessions.reauthenticate();
    return { ok: true };
  }

  @Post('reauthenticate-unguarded')
  async reauthenticateUnguarded() {
    await this.sessions.reauthenticate();
    return { ok: true };
  }

  @Connected()
  @Post('disconnect-others')
  async disconnectOthers() {
    return { closed: await this.sessions.disconnectAll({ exceptCurrent: true }) };
  }

  @Post('try-disconnect-all')
  async tryDisconnectAll(@Body() body: { userId?: string; exceptCurrent?: boolean }) {
    try {
      return { closed: await this.sessions.disconnectAll(body) };
    } catch (error) {
      const status = error instanceof HttpException ? error.getStatus() : 500;
      return { error: (error as Error).message, name: (error as Error).constructor.name, status };
    }
  }
}

/**
 * `GET /stream` (@Connected, Server-Sent Events): `{ n, user }` every 50 ms, `user` being what `SessionService` says
 * when the event goes out (the timer runs in the request's context, which follows its session).
 */
@Controller()
export class StreamController {
  constructor(private readonly sessions: SessionService) {}

  @Connected()
  @Sse('stream')
  stream(): Observable<MessageEvent> {
    return interval(50).pipe(map((n) => ({ data: { n, user: this.sessions.currentUserId() ?? null } })));
  }
}

/**
 * Socket messages, each answering `{ event, data }` with its own name:
 * - `whoami` (@Connected) → `{ user }`; `sensitive` (@Connected fresh) → `{ user }`
 * - `tab` (@Connected): the process-scoped counter of the socket, plus one → `{ count }`
 * - `note` (@Connected) → `{ note }`: the persisted session-scoped value of {@link REAUTH_KEYS}
 */
@WebSocketGateway()
export class ReauthGateway {
  private static readonly COUNT = new SessionKey<number>('reauth.socket-count', { scope: 'process' });

  constructor(private readonly sessions: SessionService) {}

  @Connected()
  @SubscribeMessage('whoami')
  whoami(@CurrentUser() user: string) {
    return { event: 'whoami', data: { user } };
  }

  @Connected({ fresh: FRESH_SECONDS })
  @SubscribeMessage('sensitive')
  sensitive(@CurrentUser() user: string) {
    return { event: 'sensitive', data: { user } };
  }

  @Connected()
  @SubscribeMessage('tab')
  async tab() {
    const count = ((await this.sessions.get(ReauthGateway.COUNT)) ?? 0) + 1;
    await this.sessions.set(ReauthGateway.COUNT, count);
    return { event: 'tab', data: { count } };
  }

  @Connected()
  @SubscribeMessage('note')
  async note() {
    return { event: 'note', data: { note: (await this.sessions.get(REAUTH_KEYS.note)) ?? null } };
  }
}
