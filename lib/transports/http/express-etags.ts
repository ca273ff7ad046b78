/** Express's compiled `etag` setting: the ETag of a body `res.send` is about to send, or none. */
type ETagFunction = (body: string | Buffer, encoding?: BufferEncoding) => string | undefined;

/** The two calls of an Express application's settings used here. */
export interface ExpressSettings {
  get(setting: 'etag fn'): unknown;
  set(setting: 'etag fn', value: ETagFunction): unknown;
}

/** `no-store` as a directive of a `Cache-Control` value (a list of tokens, some with arguments). */
const NO_STORE_DIRECTIVE = /(?:^|,)\s*no-store\s*(?:[,=]|$)/i;

/** A `Cache-Control` value (as a response holds it: a string, a number or a list) says `no-store`. */
export function forbidsStoring(cacheControl: unknown): boolean {
  if (typeof cacheControl === 'string') return NO_STORE_DIRECTIVE.test(cacheControl);
  return Array.isArray(cacheControl) && cacheControl.some((value) => typeof value === 'string' && NO_STORE_DIRECTIVE.test(value));
}

/**
 * Makes Express send no ETag on a response that no cache may keep. By default Express hashes every body `res.send`
 * sends (SHA-1) for an ETag, and answers a matching `If-None-Match` with 304; both need a stored copy, which
 * `Cache-Control: no-store` forbids, so the hash would be work for nothing on every connected request (Spring's
 * `ShallowEtagHeaderFilter` skips such responses for the same reason). `unstored` says whether the response being
 * sent is one; it is asked only while Express would compute an ETag.
 *
 * Wraps the application's `etag fn` as it stands when called; an application that sets `etag` later replaces the
 * wrapper, and one that turned ETags off keeps them off.
 */
export function skipETagsOfUnstored(app: ExpressSettings, unstored: () => boolean): void {
  const etag = app.get('etag fn');
  if (typeof etag !== 'function') return;
  const original = etag as ETagFunction;
  app.set('etag fn', (body, encoding) => (unstored() ? undefined : original(body, encoding)));
}
