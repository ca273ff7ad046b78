import { HttpException, HttpStatus } from '@nestjs/common';

/** What a request refused by the origin check is told. */
export const CROSS_ORIGIN_MESSAGE = 'Cross-origin request refused (CSRF)';
/** What a request refused by the token check is told. */
export const CSRF_TOKEN_MESSAGE = 'Missing or invalid CSRF token (CSRF)';

/**
 * 403: an unsafe request (not GET, HEAD or OPTIONS) that a browser sent from another origin, or that carried the
 * session cookie without the session's CSRF token (`policy.csrf`). Never replaced by `policy.denied`: a redirect to
 * a login page would hide an attack behind a normal answer.
 */
export class CsrfRejectedException extends HttpException {
  constructor(message: string = CROSS_ORIGIN_MESSAGE) {
    super({ statusCode: HttpStatus.FORBIDDEN, error: 'Forbidden', message, code: 'csrf' }, HttpStatus.FORBIDDEN);
  }
}
