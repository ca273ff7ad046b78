import { HttpException, HttpStatus } from '@nestjs/common';

/**
 * 401: the handler needs a fresh authentication (`@Connected({ fresh })`) and the user last proved who they are too
 * long ago. Not a plain 401: the client should ask for the password again (then `reauthenticate()`), not log in, so
 * `policy.denied` (a redirect to the login page) never replaces it.
 */
export class ReauthenticationRequiredException extends HttpException {
  constructor(message = 'Reauthentication required') {
    super({ statusCode: HttpStatus.UNAUTHORIZED, error: 'Unauthorized', message, code: 'reauthenticate' }, HttpStatus.UNAUTHORIZED);
  }
}
