import { HttpException } from '@nestjs/common';

/** The refusal shaped by `policy.denied` (a redirect to a login page, say) in place of a 401 or 403. */
export class SessionDeniedException extends HttpException {
  constructor(
    status: number,
    readonly headers: Readonly<Record<string, string>>,
    readonly code: 'unauthenticated' | 'forbidden',
  ) {
    super({ statusCode: status, message: code === 'unauthenticated' ? 'Not connected' : 'Permission denied', code }, status);
  }
}
