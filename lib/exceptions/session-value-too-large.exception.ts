import { HttpException, HttpStatus } from '@nestjs/common';

/** 413: a persisted value, or the session's persisted values together, would pass the policy's size limits. */
export class SessionValueTooLargeException extends HttpException {
  constructor(message: string) {
    super(
      { statusCode: HttpStatus.PAYLOAD_TOO_LARGE, error: 'Payload Too Large', message, code: 'value_too_large' },
      HttpStatus.PAYLOAD_TOO_LARGE,
    );
  }
}
