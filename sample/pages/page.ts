import {
  applyDecorators,
  Catch,
  Header,
  HttpException,
  Injectable,
  UseFilters,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { NotConnectedException, PermissionDeniedException } from 'nestjs-connected';
import { html } from './html.js';
import { Layout } from './layout.js';

/**
 * Errors of a page as pages: without a user, a redirect to the login page (which comes back afterwards); outside the
 * route's groups, a 403 page; anything else, a page with the status. The JSON routes keep the library's JSON errors.
 */
@Injectable()
@Catch()
export class PageErrorFilter implements ExceptionFilter {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly layout: Layout,
  ) {}

  catch(error: unknown, host: ArgumentsHost): void {
    const adapter = this.adapterHost.httpAdapter;
    const request: unknown = host.switchToHttp().getRequest();
    const response: unknown = host.switchToHttp().getResponse();
    if (error instanceof NotConnectedException) {
      const path = String(adapter.getRequestUrl(request));
      adapter.redirect(response, 303, `/login?next=${encodeURIComponent(path)}`);
      return;
    }
    const status = error instanceof HttpException ? error.getStatus() : 500;
    const title = error instanceof PermissionDeniedException ? 'Not for you' : `Error ${status}`;
    const text =
      error instanceof PermissionDeniedException
        ? 'This page is for admins only (and not for banned ones).'
        : error instanceof HttpException
          ? error.message
          : 'Something went wrong.';
    adapter.setHeader(response, 'Content-Type', 'text/html; charset=utf-8');
    adapter.setHeader(response, 'Cache-Control', 'no-store');
    const body = html`<p class="error" id="error-status" data-status="${status}">${text}</p>
      <p><a href="/">Back to the shop</a></p>`;
    adapter.reply(response, this.layout.render({ title, body }), status);
  }
}

/**
 * An HTML page route: the content type, no caching (each page carries its session's CSRF token, and private pages
 * must not come back from the cache after logout), and errors as pages.
 */
export function Page(): MethodDecorator {
  return applyDecorators(
    Header('Content-Type', 'text/html; charset=utf-8'),
    Header('Cache-Control', 'no-store'),
    UseFilters(PageErrorFilter),
  );
}
