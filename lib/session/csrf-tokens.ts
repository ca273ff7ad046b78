import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

/** Bytes of the secret part (an HMAC-SHA-256) and of the random pad that masks it. */
const SIZE = 32;
/** base64url of pad + masked secret: 64 bytes. */
const TOKEN_LENGTH = 86;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** Keeps the token's HMAC apart from every other use of the secrets (the cookie's tag signs the bare id). */
const PURPOSE = 'nestjs-connected csrf-token\0';

/**
 * CSRF tokens bound to a session. The secret part is an HMAC of the session's store key (SHA-256 of its id) under
 * the policy's first secret, so a token dies with the id (login, logout, every id rotation) and the store needs no
 * extra field. Each token carries it XORed with a fresh random pad (BREACH: a page that compresses the token with
 * attacker-chosen text must not show the same bytes twice). Checked in constant time against every secret, so a
 * rotation of `policy.secret` does not break the pages already open.
 */
export class CsrfTokens {
  /** Key objects made once, as for the cookie signer. */
  private readonly keys: readonly KeyObject[];

  constructor(secrets: readonly string[]) {
    if (secrets.length === 0) throw new Error('CsrfTokens needs at least one secret');
    this.keys = secrets.map((secret) => createSecretKey(Buffer.from(secret, 'utf8')));
  }

  /**
   * A new token for the session stored under `sessionKey`. Without a session, random bytes of the same shape: a
   * token that no session accepts (a request without a session cookie needs none).
   */
  issue(sessionKey: string | undefined): string {
    const pad = randomBytes(SIZE);
    if (sessionKey === undefined) return Buffer.concat([pad, randomBytes(SIZE)]).toString('base64url');
    const secret = this.secretOf(this.keys[0], sessionKey);
    for (let i = 0; i < SIZE; i++) secret[i] ^= pad[i];
    return Buffer.concat([pad, secret]).toString('base64url');
  }

  /** True when `token` (a header's value) is a token of the session stored under `sessionKey`. */
  verify(sessionKey: string, token: unknown): boolean {
    if (typeof token !== 'string' || token.length !== TOKEN_LENGTH || !BASE64URL.test(token)) return false;
    const bytes = Buffer.from(token, 'base64url');
    // The last character carries 2 unused bits: only one spelling of a token is accepted.
    if (bytes.length !== 2 * SIZE || bytes.toString('base64url') !== token) return false;
    const given = Buffer.alloc(SIZE);
    for (let i = 0; i < SIZE; i++) given[i] = bytes[i] ^ bytes[SIZE + i];
    let valid = false;
    // Every secret is tried, so the time taken does not tell which one matched.
    for (const key of this.keys) {
      if (timingSafeEqual(this.secretOf(key, sessionKey), given)) valid = true;
    }
    return valid;
  }

  private secretOf(key: KeyObject, sessionKey: string): Buffer {
    return createHmac('sha256', key).update(PURPOSE).update(sessionKey).digest();
  }
}
