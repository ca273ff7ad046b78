import { HttpException, HttpStatus } from '@nestjs/common';

/** 401: the handler needs a connected user and the request has none (Os_session `Not_connected`). */
export class NotConnectedException extends HttpException {
  constructor(message = 'Not connected') {
    super({ statusCode: HttpStatus.UNAUTHORIZED, error: 'Unauthorized', message, code: 'unauthenticated' }, HttpStatus.UNAUTHORIZED);
  }
}
