import { jest } from '@jest/globals';
import { forbidsStoring, skipETagsOfUnstored } from '../../../lib/transports/http/express-etags.js';

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

describe('skipETagsOfUnstored', () => {
  const original = (body: string | Buffer) => `W/"${body.length}"`;

  it("hides the ETag function while the response is unstored, and the application's otherwise", () => {
    let unstored = true;
    const app = { settings: { 'etag fn': original } as Record<string, unknown> };
    skipETagsOfUnstored(app, () => unstored);
    expect(app.settings['etag fn']).toBeUndefined();
    unstored = false;
    expect(app.settings['etag fn']).toBe(original);
  });

  it('takes later writes of the setting, off included', () => {
    const app = { settings: { 'etag fn': original } as Record<string, unknown> };
    skipETagsOfUnstored(app, () => false);
    const strong = (body: string | Buffer) => `"${body.length}"`;
    app.settings['etag fn'] = strong;
    expect(app.settings['etag fn']).toBe(strong);
    app.settings['etag fn'] = undefined;
    expect(app.settings['etag fn']).toBeUndefined();
  });

  it('asks nothing while ETags are off', () => {
    const app = { settings: { 'etag fn': undefined } as Record<string, unknown> };
    const unstored = jest.fn(() => true);
    skipETagsOfUnstored(app, unstored);
    expect(app.settings['etag fn']).toBeUndefined();
    expect(unstored).not.toHaveBeenCalled();
  });
});
