import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { isSessionIdShape } from './session-id.js';

const TAG_LENGTH = 43; // base64url of a 32-byte HMAC-SHA-256

/** Signs session ids with the first secret and verifies them against every secret (rotation). */
export class SessionSigner {
  /** Key objects made once: building one from a string on every request is most of an HMAC's cost. */
  private readonly secrets: readonly KeyObject[];

  constructor(secrets: readonly string[]) {
    if (secrets.length === 0) throw new Error('SessionSigner needs at least one secret');
    this.secrets = secrets.map((secret) => createSecretKey(Buffer.from(secret, 'utf8')));
  }

  /** `id.tag`, the cookie value. */
  sign(id: string): string {
    return `${id}.${this.tag(this.secrets[0], id)}`;
  }

  /** The id inside a cookie value whose tag verifies under one of the secrets, else undefined. */
  unsign(value: string): string | undefined {
    if (value.length !== 2 * TAG_LENGTH + 1 || value.charCodeAt(TAG_LENGTH) !== 0x2e /* . */) return undefined;
    const id = value.slice(0, TAG_LENGTH);
    const tag = value.slice(TAG_LENGTH + 1);
    if (!isSessionIdShape(id) || !isSessionIdShape(tag)) return undefined;
    const given = Buffer.from(tag, 'base64url');
    // The 43rd character carries 2 unused bits: without this, four spellings of one tag would all verify.
    if (given.length !== 32 || given.toString('base64url') !== tag) return undefined;
    let valid = false;
    // Every secret is tried, so the time taken does not tell which one matched.
    for (const secret of this.secrets) {
      const expected = createHmac('sha256', secret).update(id).digest();
      if (timingSafeEqual(expected, given)) valid = true;
    }
    return valid ? id : undefined;
  }

  private tag(secret: KeyObject, id: string): string {
    return createHmac('sha256', secret).update(id).digest('base64url');
  }
}
