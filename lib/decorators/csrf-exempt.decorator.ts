import { SetMetadata } from '@nestjs/common';

export const CSRF_EXEMPT = Symbol('nestjs-connected:csrf-exempt');

/**
 * Turns the CSRF checks (origin and token) off for a handler, or for every handler of a controller or resolver:
 * for requests that other sites send on purpose and that authenticate themselves (a webhook with a signature).
 * Such a handler must not act on the session's authority, since any page can make a browser call it.
 */
export function CsrfExempt(): ClassDecorator & MethodDecorator {
  return SetMetadata(CSRF_EXEMPT, true);
}
