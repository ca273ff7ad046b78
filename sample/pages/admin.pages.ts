import { Controller, Get } from '@nestjs/common';
import { Connected, CurrentUser, SessionService } from 'nestjs-connected';
import { DEMO_USERS } from '../users.js';
import { html } from './html.js';
import { Layout } from './layout.js';
import { Page } from './page.js';

/** The admin area: admins only, and not banned ones (deny wins); everyone else gets the 403 page. */
@Controller()
export class AdminPages {
  constructor(
    private readonly sessions: SessionService,
    private readonly layout: Layout,
  ) {}

  @Connected({ allow: ['admin'], deny: ['banned'] })
  @Get('admin')
  @Page()
  async admin(@CurrentUser() user: string) {
    const rows = await Promise.all(
      DEMO_USERS.map(async (demo) => {
        const live = (await this.sessions.listSessions(demo.id)).length;
        // policy.impersonation denies admins as targets; the page offers no button the library would refuse.
        const actAs = demo.groups.includes('admin')
          ? html`<i>not for admins</i>`
          : html`<form method="post" action="/api/impersonation" data-then="/profile" data-ends-session>
              <input type="hidden" name="user" value="${demo.id}" /><button>Act as ${demo.id}</button>
            </form>`;
        return html`<tr data-user="${demo.id}">
          <td>${demo.id}</td>
          <td>${demo.groups.join(', ')}</td>
          <td>${live}</td>
          <td>${actAs}</td>
        </tr>`;
      }),
    );
    const body = html`<p id="admin-welcome">Welcome to the admin area, ${user}.</p>
      <table class="users">
        <thead>
          <tr>
            <th>user</th>
            <th>groups</th>
            <th>live sessions</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${rows}
        </tbody>
      </table>
      <p>
        <small
          >Acting as a user opens a session of theirs in this browser for 15 minutes at most, with a banner to stop. It never passes a
          <code>fresh</code> check: the password page stays closed to you. The user sees it in their sessions list, and every event of it
          names you.</small
        >
      </p>`;
    return this.layout.render({ title: 'Admin', body, nav: '/admin' });
  }
}
