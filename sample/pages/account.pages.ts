import { Controller, Get } from '@nestjs/common';
import { Connected, CurrentUser, SessionData, SessionService, type SessionInfo } from 'nestjs-connected';
import { FRESH_SECONDS } from '../api/account.controller.js';
import { CART, VISITS } from '../keys.js';
import { groupsOf } from '../users.js';
import { ago, describeAgent } from './agent.js';
import { html } from './html.js';
import { Layout } from './layout.js';
import { Page } from './page.js';

/** The connected user's own pages: profile, sessions (revoke, log out everywhere), password change. */
@Connected()
@Controller()
export class AccountPages {
  constructor(
    private readonly sessions: SessionService,
    private readonly layout: Layout,
  ) {}

  private async current(user: string): Promise<SessionInfo | undefined> {
    return (await this.sessions.listSessions(user)).find((session) => session.current);
  }

  @Get('profile')
  @Page()
  async profile(
    @CurrentUser() user: string,
    @SessionData(VISITS) visits: number | undefined,
    @SessionData(CART) cart: string[] | undefined,
  ) {
    const count = (visits ?? 0) + 1;
    await this.sessions.set(VISITS, count);
    const session = await this.current(user);
    const groups = groupsOf(user);
    const body = html`<dl class="card" id="profile">
        <dt>User</dt>
        <dd id="profile-user">${user}</dd>
        <dt>Groups</dt>
        <dd>${groups.length === 0 ? html`<i>none</i>` : groups.join(', ')}</dd>
        <dt>Pages seen in this login</dt>
        <dd>${count} <small>(session data: starts again at the next login)</small></dd>
        <dt>Password last entered</dt>
        <dd>${session === undefined ? '?' : ago(session.authenticatedAt)}</dd>
        <dt>Items in the cart</dt>
        <dd>${(cart ?? []).length} <small>(browser data: kept through login and logout)</small></dd>
      </dl>
      <p>
        The panel on the right shows what happens to your sessions, live. Log in as ${user} in another browser, then revoke it from
        <a href="/sessions">Your sessions</a>: that browser goes back to the login page by itself.
      </p>`;
    return this.layout.render({ title: 'Profile', body, nav: '/profile' });
  }

  @Get('sessions')
  @Page()
  async list(@CurrentUser() user: string) {
    const rows = (await this.sessions.listSessions(user)).map(
      (session) =>
        html`<tr class="${session.current ? 'current' : ''}" data-handle="${session.handle}">
          <td title="${session.userAgent ?? ''}">
            ${describeAgent(session.userAgent)}${session.current ? html` <b class="this-one">(this device)</b>` : ''}
            ${session.actorId === undefined ? '' : html`<br /><b class="actor">${session.actorId} acting as you</b>`}
          </td>
          <td>${session.ip ?? '?'}</td>
          <td><time datetime="${session.createdAt.toISOString()}">${ago(session.createdAt)}</time></td>
          <td><time datetime="${session.lastSeenAt.toISOString()}">${ago(session.lastSeenAt)}</time></td>
          <td>
            ${
              session.current
                ? ''
                : html`<form
                    method="post"
                    data-method="DELETE"
                    action="/api/sessions/${session.handle}"
                    data-remove="tr"
                    data-done="Session revoked."
                  >
                    <button>Revoke</button>
                  </form>`
            }
          </td>
        </tr>`,
    );
    const body = html`<table class="sessions">
        <thead>
          <tr>
            <th>device</th>
            <th>address</th>
            <th>signed in</th>
            <th>last seen</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${rows}
        </tbody>
      </table>
      <form method="post" action="/api/logout-everywhere" data-then="/login" data-ends-session>
        <button class="danger">Log out everywhere</button>
      </form>
      <p>
        <small
          >Revoking a session ends it on the server: that device's next request has no session, and its open pages go to the login page at
          once (their live panel gets the end of the session).</small
        >
      </p>`;
    return this.layout.render({ title: 'Your sessions', body, nav: '/sessions' });
  }

  @Get('account/password')
  @Page()
  async password(@CurrentUser() user: string) {
    const session = await this.current(user);
    const body = html`<p>
        Changing the password needs your current password entered at most ${FRESH_SECONDS} s ago (you last entered it
        ${session === undefined ? '?' : ago(session.authenticatedAt)}). If it is older, you are asked for it again first. Once it is
        changed, every other session of yours ends.
      </p>
      <form
        method="post"
        action="/api/account/password"
        class="card"
        id="password-form"
        data-done="Password changed. Sessions ended on other devices: {closed}."
      >
        <label>New password <input name="password" type="password" autocomplete="new-password" minlength="8" required /></label>
        <button>Change password</button>
      </form>
      <form method="post" action="/api/account/reauthenticate" class="card" id="reauthenticate" hidden>
        <p><b>Please enter your current password again.</b> It was entered too long ago for this change.</p>
        <label>Current password <input name="password" type="password" autocomplete="current-password" required /></label>
        <button>Confirm</button>
      </form>`;
    return this.layout.render({ title: 'Change your password', body, nav: '/account/password' });
  }
}
