/** One parsed Set-Cookie header. */
export interface SetCookie {
  name: string;
  value: string;
  attributes: Record<string, string | true>;
  raw: string;
}

export function parseSetCookie(raw: string): SetCookie {
  const [pair = '', ...rest] = raw.split(';');
  const eq = pair.indexOf('=');
  const attributes: Record<string, string | true> = {};
  for (const part of rest) {
    const [k = '', ...v] = part.trim().split('=');
    attributes[k.toLowerCase()] = v.length ? v.join('=') : true;
  }
  return { name: pair.slice(0, eq).trim(), value: decodeURIComponent(pair.slice(eq + 1).trim()), attributes, raw };
}

/** True for a Set-Cookie that makes a browser delete the cookie: Max-Age=0 or an Expires in the past. */
export function deletesCookie(cookie: SetCookie): boolean {
  const expires = cookie.attributes['expires'];
  return cookie.attributes['max-age'] === '0' || (typeof expires === 'string' && Date.parse(expires) < Date.now());
}

/** A response with its body read and its cookies parsed. */
export interface Reply {
  status: number;
  headers: Headers;
  body: any;
  text: string;
  setCookies: SetCookie[];
}

/**
 * A tiny browser over real HTTP (fetch): keeps the cookies the server sets (and expires) so that a test reads
 * like a user's visit.
 */
export class Browser {
  readonly jar = new Map<string, string>();

  constructor(
    readonly base: string,
    readonly extraHeaders: Record<string, string> = {},
  ) {}

  cookieHeader(): string {
    return [...this.jar].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('; ');
  }

  async request(
    method: string,
    path: string,
    init: { headers?: Record<string, string>; body?: unknown; cookie?: string } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = { ...this.extraHeaders, ...init.headers };
    const cookie = init.cookie ?? this.cookieHeader();
    if (cookie) headers['cookie'] = cookie;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(this.base + path, {
      method,
      headers,
      redirect: 'manual',
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    const text = await response.text();
    const setCookies = response.headers.getSetCookie().map(parseSetCookie);
    for (const c of setCookies) {
      if (deletesCookie(c)) this.jar.delete(c.name);
      else this.jar.set(c.name, c.value);
    }
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    return { status: response.status, headers: response.headers, body, text, setCookies };
  }

  get(path: string, init?: { headers?: Record<string, string>; cookie?: string }) {
    return this.request('GET', path, init);
  }

  post(path: string, body?: unknown, init?: { headers?: Record<string, string>; cookie?: string }) {
    return this.request('POST', path, { ...init, body: body ?? {} });
  }
}
