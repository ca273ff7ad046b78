import { Controller, Get, Query } from '@nestjs/common';
import { Connected, CurrentUser, SessionData } from 'nestjs-connected';
import { CART } from '../keys.js';
import { DEMO_USERS, demoPassword } from '../users.js';
import { html } from './html.js';
import { Layout } from './layout.js';
import { Page } from './page.js';

const PRODUCTS = ['Green tea', 'Black coffee', 'Oat biscuits', 'Dark chocolate'];

/** Why the login page was reached after a session ended elsewhere (the live panel's `session_end` reason). */
const ENDED: Record<string, string> = {
  session_closed: 'Your session was closed from another device (or it was revoked). Please log in again.',
  session_expired: 'Your session expired. Please log in again.',
};

/** Only a path of this site may be a `next` (no `//host`, no scheme): no open redirect. */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/(?![/\\])/.test(next) ? next : '/profile';
}

/** The pages anyone sees: the shop with its cart (browser data, kept through login) and the login form. */
@Controller()
export class PublicPages {
  constructor(private readonly layout: Layout) {}

  @Connected({ optional: true })
  @Get()
  @Page()
  shop(@CurrentUser() user: string | undefined, @SessionData(CART) cart: string[] | undefined) {
    const items = cart ?? [];
    const products = PRODUCTS.map(
      (product) =>
        html`<li>
          <span>${product}</span>
          <form method="post" action="/api/cart" data-then="/">
            <input type="hidden" name="item" value="${product}" /><button>Add to cart</button>
          </form>
        </li>`,
    );
    const body = html`<p>Fill the cart before or after logging in: it is <em>browser</em> data, kept through login and logout.</p>
      <ul class="products">
        ${products}
      </ul>
      <h2>Your cart (<span id="cart-count">${items.length}</span>)</h2>
      ${
        items.length === 0
          ? html`<p id="cart">Empty.</p>`
          : html`<ul id="cart">
              ${items.map((item) => html`<li>${item}</li>`)}
            </ul>`
      }
      ${items.length === 0 ? '' : html`<form method="post" action="/api/cart/empty" data-then="/"><button>Empty the cart</button></form>`}
      ${user === undefined ? html`<p><a href="/login">Log in</a> to see your profile; the cart stays.</p>` : ''}`;
    return this.layout.render({ title: 'Shop', body, nav: '/' });
  }

  @Connected({ optional: true })
  @Get('login')
  @Page()
  login(@CurrentUser() user: string | undefined, @Query('next') next?: string, @Query('ended') ended?: string) {
    const rows = DEMO_USERS.map(
      (demo) =>
        html`<tr>
          <td>
            <button type="button" class="link" data-fill-user="${demo.id}" data-fill-password="${demoPassword(demo.id)}">${demo.id}</button>
          </td>
          <td>${demo.groups.length === 0 ? html`<i>none</i>` : demo.groups.join(', ')}</td>
          <td><code>${demoPassword(demo.id)}</code></td>
        </tr>`,
    );
    const notice = ended !== undefined && ENDED[ended] !== undefined ? html`<p class="notice" id="ended">${ENDED[ended]}</p>` : '';
    const already = user === undefined ? '' : html`<p>You are signed in as <b>${user}</b>; logging in again replaces that session.</p>`;
    const body = html`${notice}${already}
      <form method="post" action="/api/login" data-then="${safeNext(next)}" data-ends-session class="card" id="login-form">
        <label>User <input name="user" autocomplete="username" required /></label>
        <label>Password <input name="password" type="password" autocomplete="current-password" required /></label>
        <label class="check"><input name="remember" type="checkbox" /> Remember me (a cookie that outlives the browser)</label>
        <button>Log in</button>
      </form>
      <h2>Demo users</h2>
      <p>
        Click a name to fill the form. Their passwords start as <code>&lt;name&gt;-password</code>; a changed one lasts until the app
        restarts.
      </p>
      <table class="users">
        <thead>
          <tr>
            <th>user</th>
            <th>groups</th>
            <th>password</th>
          </tr>
        </thead>
        <tbody>
          ${rows}
        </tbody>
      </table>`;
    return this.layout.render({ title: 'Log in', body, nav: '/login' });
  }
}
