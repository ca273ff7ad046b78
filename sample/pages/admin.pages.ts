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
        return html`<tr>
          <td>${demo.id}</td>
          <td>${demo.groups.join(', ')}</td>
          <td>${live}</td>
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
          </tr>
        </thead>
        <tbody>
          ${rows}
        </tbody>
      </table>`;
    return this.layout.render({ title: 'Admin', body, nav: '/admin' });
  }
}
