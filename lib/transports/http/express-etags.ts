/** The part of an Express application used here: its settings object (`app.settings`, also `app.locals.settings`). */
export interface ExpressSettings {
  readonly settings: Record<string, unknown>;
}

/** The setting Express compiles `app.set('etag', …)` into, and reads in every `res.send`. */
const ETAG_FUNCTION = 'etag fn';

/** `no-store` as a directive of a `Cache-Control` value (a list of tokens, some with arguments). */
const NO_STORE_DIRECTIVE = /(?:^|,)\s*no-store\s*(?:[,=]|$)/i;

/** A `Cache-Control` value (as a response holds it: a string, a number or a list) says `no-store`. */
export function forbidsStoring(cacheControl: unknown): boolean {
  if (typeof cacheControl === 'string') return NO_STORE_DIRECTIVE.test(cacheControl);
  return Array.isArray(cacheControl) && cacheControl.some((value) => typeof value === 'string' && NO_STORE_DIRECTIVE.test(value));
}

/**
 * Makes Express send no ETag on a response that no cache may keep. By default `res.send` hashes every body (SHA-1)
 * for an ETag, and to do so turns a string body into a Buffer, which Node then writes as a second chunk after the
 * headers where a string would have gone out with them; a matching `If-None-Match` gets a 304. All of that serves
 * only a stored copy, which `Cache-Control: no-store` forbids (Spring's `ShallowEtagHeaderFilter` skips such
 * responses for the same reason), and on every connected request it cost more than the session's own work.
 *
 * Express asks for its ETag function once per `res.send`, and only the answer "none" spares the Buffer as well as the
 * hash. So the setting becomes an accessor: it reads as no function while `unstored()` says the response being sent
 * is marked `no-store`, and as the application's otherwise. Writes go through, so `app.set('etag', …)` keeps working
 * at any time, `false` included.
 */
export function skipETagsOfUnstored(app: ExpressSettings, unstored: () => boolean): void {
  let etag = app.settings[ETAG_FUNCTION];
  Object.defineProperty(app.settings, ETAG_FUNCTION, {
    configurable: true,
    enumerable: true,
    get: () => (typeof etag === 'function' && unstored() ? undefined : etag),
    set: (value: unknown) => {
      etag = value;
    },
  });
}
