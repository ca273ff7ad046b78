import { Body, Controller, Delete, Get, Injectable, Options, Patch, Post, Put } from '@nestjs/common';
import { Connected, CsrfExempt, SessionKey, SessionService, type SessionEvent } from '../../lib/index.js';
import type { TestApp } from './app.js';
import { LoginController } from './auth.controller.js';
import { NoteController } from './note.controller.js';

/** A browser-scoped value: writing it without a session opens an anonymous one. */
export const CSRF_CART = new SessionKey<string>('support.csrf-cart', { scope: 'browser', persist: true });

/** What each route did, by name: a refused request must not have run its handler. */
@Injectable()
export class CsrfLedger {
  readonly ran: Record<string, number> = {};

  hit(route: string): number {
    this.ran[route] = (this.ran[route] ?? 0) + 1;
    return this.ran[route];
  }
}

/**
 * The routes of the CSRF specs (with {@link LoginController}'s POST /login, POST /logout, GET /public and
 * {@link NoteController}'s GET /me, POST /note):
 * - `GET|OPTIONS|POST|PUT|PATCH|DELETE /action` (no guard): counts its runs → `{ ran, user }` (HEAD runs GET's)
 * - `POST /logout-everywhere` (@Connected): `disconnectAll()` → `{ closed }`
 * - `POST /cart {item}` (no guard): a browser-scoped write (opens an anonymous session)
 * - `GET /csrf-token` → `{ token }`; `POST /login-token {user}`: `connect()`, then the new session's token
 * - `POST /hook` (@CsrfExempt method), `POST /not-hook` (same controller, not exempt)
 */
@Controller()
export class CsrfController {
  constructor(
    private readonly sessions: SessionService,
    private readonly ledger: CsrfLedger,
  ) {}

  private run(route: string) {
    return { ran: this.ledger.hit(route), user: this.sessions.currentUserId() ?? null };
  }

  @Get('action')
  get() {
    return this.run('GET');
  }

  @Options('action')
  options() {
    return this.run('OPTIONS');
  }

  @Post('action')
  post() {
    return this.run('POST');
  }

  @Put('action')
  put() {
    return this.run('PUT');
  }

  @Patch('action')
  patch() {
    return this.run('PATCH');
  }

  @Delete('action')
  delete() {
    return this.run('DELETE');
  }

  @Connected()
  @Post('logout-everywhere')
  async logoutEverywhere() {
    this.ledger.hit('logout-everywhere');
    return { closed: await this.sessions.disconnectAll() };
  }

  @Post('cart')
  async cart(@Body() body: { item: string }) {
    this.ledger.hit('cart');
    await this.sessions.set(CSRF_CART, body.item);
    return { ok: true };
  }

  @Get('csrf-token')
  token() {
    return { token: this.sessions.csrfToken() };
  }

  @Post('login-token')
  async loginWithToken(@Body() body: { user: string }) {
    const before = this.sessions.csrfToken();
    await this.sessions.connect(body.user);
    return { before, token: this.sessions.csrfToken() };
  }

  @CsrfExempt()
  @Post('hook')
  hook() {
    return this.run('hook');
  }

  @Post('not-hook')
  notHook() {
    return this.run('not-hook');
  }
}

/** Every handler exempt, from the class. */
@CsrfExempt()
@Controller('exempt')
export class ExemptController {
  constructor(private readonly ledger: CsrfLedger) {}

  @Post('a')
  a() {
    return { ran: this.ledger.hit('exempt/a') };
  }

  @Connected()
  @Delete('b')
  b() {
    return { ran: this.ledger.hit('exempt/b') };
  }
}

export const CSRF_CONTROLLERS = [LoginController, NoteController, CsrfController, ExemptController];
export const CSRF_PROVIDERS = [CsrfLedger];

/** The body of a request refused by the origin check. */
export const CROSS_ORIGIN_REFUSED = { statusCode: 403, error: 'Forbidden', code: 'csrf', message: 'Cross-origin request refused (CSRF)' };
/** The body of a request refused by the token check. */
export const TOKEN_REFUSED = { statusCode: 403, error: 'Forbidden', code: 'csrf', message: 'Missing or invalid CSRF token (CSRF)' };

/** Headers a browser sends on a request from a page of another site. */
export const CROSS_SITE = { 'sec-fetch-site': 'cross-site', origin: 'http://evil.example' };
/** ... from a page of a sibling subdomain (same site, another origin): SameSite cookies go with it. */
export const SAME_SITE = { 'sec-fetch-site': 'same-site', origin: 'http://evil.app.example' };

/** The events of an app from now on; `stop()` unsubscribes. */
export function watchEvents(t: TestApp): { events: SessionEvent[]; denied(): SessionEvent[]; stop(): void } {
  const events: SessionEvent[] = [];
  const subscription = t.app.get(SessionService).sessionEvents$.subscribe((event) => events.push(event));
  return {
    events,
    denied: () => events.filter((event) => event.type === 'denied-request'),
    stop: () => subscription.unsubscribe(),
  };
}
