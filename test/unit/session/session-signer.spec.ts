import { newSessionId } from '../../../lib/session/session-id.js';
import { SessionSigner } from '../../../lib/session/session-signer.js';

const OLD = 'old-secret-old-secret-old-secret-0';
const NEW = 'new-secret-new-secret-new-secret-1';
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

describe('SessionSigner', () => {
  const signer = new SessionSigner([NEW]);

  it('round-trips a signed id', () => {
    const id = newSessionId();
    const value = signer.sign(id);
    expect(value.startsWith(`${id}.`)).toBe(true);
    expect(value).toHaveLength(87);
    expect(signer.unsign(value)).toBe(id);
  });

  it('refuses to exist without a secret', () => {
    expect(() => new SessionSigner([])).toThrow(/at least one secret/);
  });

  it('gives different tags under different secrets', () => {
    const id = newSessionId();
    expect(new SessionSigner([OLD]).sign(id)).not.toBe(signer.sign(id));
  });

  it('rejects every one-character change of a signed value', () => {
    // Covers forged tags, forged ids and the non-canonical spellings of the tag's last character.
    const value = signer.sign(newSessionId());
    const accepted: string[] = [];
    for (let i = 0; i < value.length; i++) {
      for (const c of `${ALPHABET}.`) {
        if (c === value[i]) continue;
        const changed = value.slice(0, i) + c + value.slice(i + 1);
        if (signer.unsign(changed) !== undefined) accepted.push(changed);
      }
    }
    expect(accepted).toEqual([]);
  });

  it('rejects a tag made for another id', () => {
    const [a, b] = [newSessionId(), newSessionId()];
    const tagOfB = signer.sign(b).slice(44);
    expect(signer.unsign(`${a}.${tagOfB}`)).toBeUndefined();
  });

  describe('rejects malformed values', () => {
    const id = newSessionId();
    const value = signer.sign(id);
    it.each([
      ['empty', ''],
      ['unsigned', id],
      ['id and dot only', `${id}.`],
      ['truncated', value.slice(0, -1)],
      ['extended', `${value}A`],
      ['extended by a second tag', `${value}.${value.slice(44)}`],
      ['wrong separator', `${id}:${value.slice(44)}`],
      ['base64url separator', `${id}-${value.slice(44)}`],
      ['standard base64 in the tag', `${id}.${value.slice(44, -2)}+/`],
      ['standard base64 in the id', `${id.slice(0, -2)}+/.${value.slice(44)}`],
      ['percent-encoded', encodeURIComponent(`${id}.${value.slice(44)}`).replace('.', '%2E')],
      ['a 4 KB value', `${value}${'A'.repeat(4096)}`],
      ['a 4 KB value of the right alphabet', 'A'.repeat(4096)],
      ['whitespace around it', ` ${value} `],
    ])('%s', (_, text) => {
      expect(signer.unsign(text)).toBeUndefined();
    });
  });

  describe('rotation', () => {
    it('signs with the first secret', () => {
      const id = newSessionId();
      const rotated = new SessionSigner([NEW, OLD]);
      expect(rotated.sign(id)).toBe(new SessionSigner([NEW]).sign(id));
      expect(new SessionSigner([OLD]).unsign(rotated.sign(id))).toBeUndefined();
    });

    it('verifies a value signed with an old secret while that secret is listed', () => {
      const id = newSessionId();
      const signedBefore = new SessionSigner([OLD]).sign(id);
      expect(new SessionSigner([NEW, OLD]).unsign(signedBefore)).toBe(id);
    });

    it('no longer verifies it once the old secret is removed', () => {
      const id = newSessionId();
      const signedBefore = new SessionSigner([OLD]).sign(id);
      expect(new SessionSigner([NEW]).unsign(signedBefore)).toBeUndefined();
    });
  });
});
