import { HttpException, HttpStatus } from '@nestjs/common';

/** 503: the session store failed or did not answer within `storeTimeout`; nothing was served from a guess. */
export class SessionStoreUnavailableException extends HttpException {
  constructor(message = 'Session store unavailable') {
    super(
      { statusCode: HttpStatus.SERVICE_UNAVAILABLE, error: 'Service Unavailable', message, code: 'store_unavailable' },
      HttpStatus.SERVICE_UNAVAILABLE,
    );
  }
}
