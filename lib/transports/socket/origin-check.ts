/**
 * Whether a WebSocket handshake's `Origin` may open a socket. Browsers send cookies with cross-site WebSocket
 * handshakes and CORS does not apply to them, so a foreign origin would ride on the user's session. Without an
 * `allowedOrigins` list, the origin must name the same host (and port) as the `Host` header. A handshake without
 * `Origin` comes from a non-browser client, which no other site can drive, and passes.
 */
export function isOriginAllowed(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  allowedOrigins: readonly string[] | undefined,
): boolean {
  const origin = headers.origin;
  if (origin === undefined) return true;
  if (typeof origin !== 'string') return false;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false;
  }
  if (allowedOrigins !== undefined) return allowedOrigins.includes(parsed.origin);
  const host = headers.host;
  return typeof host === 'string' && parsed.host === host.toLowerCase() && /^https?:$/.test(parsed.protocol);
}

/** Normalises configured origins (`https://app.example.com/` and `https://APP.example.com` are the same). */
export function normaliseOrigins(origins: readonly string[] | undefined): string[] | undefined {
  return origins?.map((origin) => {
    const url = new URL(origin);
    if (url.origin === 'null') throw new TypeError(`nestjs-connected: allowedOrigins entry '${origin}' is not an origin`);
    return url.origin;
  });
}
