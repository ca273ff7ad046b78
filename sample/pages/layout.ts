import { Injectable } from '@nestjs/common';
import { SessionService } from 'nestjs-connected';
import { groupsOf } from '../users.js';
import { html, type Html, type HtmlValue } from './html.js';

/** One page: its title, its main content, and which navigation link is the current one. */
export interface PageView {
  title: string;
  body: Html;
  nav?: string;
}

const LINKS: ReadonlyArray<{ href: string; label: string; connected: boolean; group?: string }> = [
  { href: '/', label: 'Shop', connected: false },
  { href: '/profile', label: 'Profile', connected: true },
  { href: '/sessions', label: 'Your sessions', connected: true },
  { href: '/account/password', label: 'Password', connected: true },
  { href: '/admin', label: 'Admin', connected: true, group: 'admin' },
];

/**
 * The frame of every page: navigation, the CSRF token (a meta tag that public/app.js puts in the x-csrf-token header
 * of every form it sends), and for a connected user the live panel and a logout button.
 */
@Injectable()
export class Layout {
  constructor(private readonly sessions: SessionService) {}

  /** The session's token; none on an error page of a request that failed before the library's guard ran. */
  private csrfToken(): string {
    try {
      return this.sessions.csrfToken();
    } catch {
      return '';
    }
  }

  render(view: PageView): string {
    const user = this.sessions.currentUserId();
    const links = LINKS.filter(
      (link) => (!link.connected || user !== undefined) && (!link.group || groupsOf(user ?? '').includes(link.group)),
    );
    const nav = links.map(
      (link) => html`<a href="${link.href}" ${link.href === view.nav ? html`aria-current="page"` : ''}>${link.label}</a>`,
    );
    const who: HtmlValue =
      user === undefined
        ? html`<a href="/login">Log in</a>`
        : html`<span class="who">Signed in as <b id="current-user">${user}</b></span>
            <form method="post" action="/api/logout" data-then="/login" data-ends-session><button>Log out</button></form>`;
    const actor = this.sessions.actorId();
    return html`<!doctype html>
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <meta name="csrf-token" content="${this.csrfToken()}" />
          <title>${view.title} · nestjs-connected sample</title>
          <link rel="stylesheet" href="/assets/style.css" />
          <script src="/assets/app.js" defer></script>
        </head>
        <body>
          <header>
            <span class="brand">nestjs-connected</span>
            <nav>${nav}</nav>
            <span class="account">${who}</span>
          </header>
          ${actor === undefined ? '' : banner(user ?? '', actor)}
          <div class="page">
            <main>
              <h1>${view.title}</h1>
              <p class="message" role="status" hidden></p>
              ${view.body}
            </main>
            ${user === undefined ? '' : livePanel()}
          </div>
        </body>
      </html>`.text;
  }
}

/** While an admin acts as a user: who, and the way back. */
function banner(user: string, actor: string): Html {
  return html`<div class="banner" id="impersonation-banner" role="alert">
    <span>Acting as <b>${user}</b> (signed in as ${actor}) —</span>
    <form method="post" action="/api/impersonation/stop" data-then="/admin" data-ends-session><button>Stop</button></form>
  </div>`;
}

function livePanel(): Html {
  return html`<aside id="live" data-stream="/api/live">
    <h2>Live: your sessions</h2>
    <p class="live-state">connecting…</p>
    <ol class="live-events"></ol>
  </aside>`;
}
