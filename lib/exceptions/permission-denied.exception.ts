import { HttpException, HttpStatus } from '@nestjs/common';

/** 403: the user is connected but outside the handler's `allow` groups or inside its `deny` groups. */
export class PermissionDeniedException extends HttpException {
  constructor(message = 'Permission denied') {
    super({ statusCode: HttpStatus.FORBIDDEN, error: 'Forbidden', message, code: 'forbidden' }, HttpStatus.FORBIDDEN);
  }
}
