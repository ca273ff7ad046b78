/** A user agent in a few words for the sessions page ("Chrome on Linux"); the full string goes in a tooltip. */
export function describeAgent(userAgent: string | undefined): string {
  if (userAgent === undefined || userAgent === '') return 'unknown device';
  const browser = first(userAgent, [
    [/Edg\//, 'Edge'],
    [/HeadlessChrome\//, 'Headless Chrome'],
    [/Chrome\/|CriOS\//, 'Chrome'],
    [/Firefox\/|FxiOS\//, 'Firefox'],
    [/Safari\//, 'Safari'],
    [/^curl\//, 'curl'],
    [/node|undici/i, 'Node.js'],
  ]);
  const system = first(userAgent, [
    [/Android/, 'Android'],
    [/iPhone/, 'iPhone'],
    [/iPad/, 'iPad'],
    [/Windows/, 'Windows'],
    [/Mac OS X|Macintosh/, 'macOS'],
    [/Linux|X11/, 'Linux'],
  ]);
  if (browser === undefined) return userAgent.slice(0, 40);
  return system === undefined ? browser : `${browser} on ${system}`;
}

function first(text: string, rules: ReadonlyArray<readonly [RegExp, string]>): string | undefined {
  return rules.find(([pattern]) => pattern.test(text))?.[1];
}

/** "12 s ago", "3 min ago", "2 h ago": how long ago, to the nearest unit. */
export function ago(when: Date, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - when.getTime()) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  return `${Math.floor(seconds / 3600)} h ago`;
}
