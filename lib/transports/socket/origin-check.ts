import { normaliseOrigins as normalise, originOf, ownOrigin } from '../../util/origins.js';

/**
 * Whether a WebSocket handshake's `Origin` may open a socket. Browsers send cookies with cross-site WebSocket
 * handshakes and CORS does not apply to them, so a foreign origin would ride on the user's session. Without an
 * `allowedOrigins` list, the origin must be the handshake's own: the scheme of `secure` (the framework's
 * trust-proxy-aware fact) with the host and port of `Host`, the same notion as the HTTP CSRF check's. A handshake
 * without `Origin` comes from a non-browser client, which no other site can drive, and passes.
 */
export function isOriginAllowed(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  allowedOrigins: readonly string[] | undefined,
  secure: boolean,
): boolean {
  if (headers.origin === undefined) return true;
  const origin = originOf(headers.origin);
  if (origin === undefined || origin === 'null') return false;
  if (allowedOrigins !== undefined) return allowedOrigins.includes(origin);
  return origin === ownOrigin(headers.host, secure);
}

/** Normalises configured origins (`https://app.example.com/` and `https://APP.example.com` are the same). */
export function normaliseOrigins(origins: readonly string[] | undefined): string[] | undefined {
  return normalise(origins, 'nestjs-connected: allowedOrigins');
}
