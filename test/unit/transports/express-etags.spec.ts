import { forbidsStoring, skipETagsOfUnstored, type ExpressSettings } from '../../../lib/transports/http/express-etags.js';

describe('forbidsStoring', () => {
  it.each(['no-store', 'No-Store', 'private, no-store', 'no-store,max-age=0', ' no-cache ,  no-store ', 'no-store=1'])(
    'sees no-store in %j',
    (value) => {
      expect(forbidsStoring(value)).toBe(true);
    },
  );

  it.each(['', 'private', 'no-cache', 'x-no-store', 'no-stored', 'private, max-age=60', 'no-store-later'])('sees none in %j', (value) => {
    expect(forbidsStoring(value)).toBe(false);
  });

  it('reads every value of a header set as a list, and nothing else', () => {
    expect(forbidsStoring(['private', 'no-store'])).toBe(true);
    expect(forbidsStoring(['private', 'max-age=60'])).toBe(false);
    expect(forbidsStoring(undefined)).toBe(false);
    expect(forbidsStoring(0)).toBe(false);
  });
});

/** An Express application's settings, as `app.get` and `app.set` keep them. */
function settings(etag: unknown): ExpressSettings & { fn(): unknown } {
  let fn = etag;
  return {
    get: () => fn,
    set: (_setting, value) => (fn = value),
    fn: () => fn,
  };
}

describe('skipETagsOfUnstored', () => {
  const original = (body: string | Buffer) => `W/"${body.length}"`;

  it('computes no tag while the response is unstored, and the original one otherwise', () => {
    let unstored = true;
    const app = settings(original);
    skipETagsOfUnstored(app, () => unstored);
    const wrapped = app.fn() as typeof original;
    expect(wrapped('{"user":"nora"}')).toBeUndefined();
    unstored = false;
    expect(wrapped('{"user":"nora"}')).toBe('W/"15"');
  });

  it('leaves an application without ETags without them', () => {
    for (const off of [undefined, false]) {
      const app = settings(off);
      skipETagsOfUnstored(app, () => false);
      expect(app.fn()).toBe(off);
    }
  });
});
