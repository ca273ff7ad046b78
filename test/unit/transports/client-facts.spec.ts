import { Controller, Get, Req, type INestApplication } from '@nestjs/common';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { clientFactsOf, type ClientFacts } from '../../../lib/transports/http/client-facts.js';
import { ADAPTERS, startApp, type AdapterName, type TestApp } from '../../support/app.js';

/** `GET /facts` → what the framework itself says about the routed request: `{ ip, protocol }`. */
@Controller()
class FactsController {
  @Get('facts')
  facts(@Req() request: { ip?: string; protocol?: string }) {
    return { ip: request.ip ?? null, protocol: request.protocol ?? null };
  }
}

/** Two proxies deep: a client, a proxy it reached, and the loopback peer (this test) that forwards both. */
const FORWARDED = { 'x-forwarded-for': '198.51.100.1, 203.0.113.7', 'x-forwarded-proto': 'https' };

/** A GET with exactly these headers; resolves the JSON body. */
function getJson(url: string, headers: Record<string, string>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (error) {
          reject(error);
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * A plain Node HTTP server (no framework): each request it receives is a raw IncomingMessage, like a WebSocket
 * upgrade; `facts` is applied to it while it is alive and the answer sent back as JSON.
 */
async function rawServer(facts: (request: IncomingMessage) => ClientFacts): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    const answer = facts(request);
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ ip: answer.ip ?? null, secure: answer.secure }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

/** Express `trust proxy` values to try (Fastify: `trustProxy: true` or nothing). */
type Trust = 'none' | 'loopback' | 'all';

function trustsOf(adapter: AdapterName): Trust[] {
  return adapter === 'express' ? ['none', 'loopback', 'all'] : ['none', 'all'];
}

describe.each(ADAPTERS)('clientFactsOf on %s', (adapter: AdapterName) => {
  describe.each(trustsOf(adapter))('trust proxy: %s', (trust: Trust) => {
    let t: TestApp;
    let raw: { url: string; server: Server };
    beforeAll(async () => {
      t = await startApp({
        adapter,
        controllers: [FactsController],
        trustProxy: trust === 'all',
        configure: (app: INestApplication) => {
          if (adapter === 'express' && trust === 'loopback') {
            (app.getHttpAdapter().getInstance() as { set(key: string, value: unknown): void }).set('trust proxy', 'loopback');
          }
        },
      });
      raw = await rawServer(clientFactsOf(t.app.getHttpAdapter()));
    });
    afterAll(async () => {
      await new Promise((resolve) => raw.server.close(resolve));
      await t.close();
    });

    it.each([
      ['no proxy headers', {}],
      ['X-Forwarded-For and X-Forwarded-Proto', FORWARDED],
      ['a single X-Forwarded-For', { 'x-forwarded-for': '203.0.113.9' }],
      ['X-Forwarded-Proto: http', { 'x-forwarded-proto': 'http' }],
    ])('answers as the framework does for a routed request (%s)', async (_, headers: Record<string, string>) => {
      const routed = (await getJson(`${t.url}/facts`, headers)) as { ip: string | null; protocol: string | null };
      const seen = await getJson(raw.url, headers);
      expect(seen).toEqual({ ip: routed.ip, secure: routed.protocol === 'https' });
    });

    it(trust === 'none' ? 'ignores the proxy headers' : 'honours the proxy headers', async () => {
      const seen = (await getJson(raw.url, FORWARDED)) as { ip: string | null; secure: boolean };
      if (trust === 'none') {
        expect(seen).toEqual({ ip: '127.0.0.1', secure: false });
      } else {
        // Express stops at the first untrusted hop (loopback trusts only this test); `true` trusts every hop.
        expect(seen).toEqual({ ip: trust === 'loopback' ? '203.0.113.7' : '198.51.100.1', secure: true });
      }
    });
  });
});

describe('clientFactsOf without a known framework', () => {
  it('answers the TCP facts for a platform it does not know, and for no adapter', async () => {
    const unknown = { getType: () => 'other', getInstance: () => ({}) } as unknown as Parameters<typeof clientFactsOf>[0];
    for (const facts of [clientFactsOf(undefined), clientFactsOf(unknown)]) {
      const raw = await rawServer(facts);
      try {
        expect(await getJson(raw.url, FORWARDED)).toEqual({ ip: '127.0.0.1', secure: false });
      } finally {
        await new Promise((resolve) => raw.server.close(resolve));
      }
    }
  });

  it('answers the TCP facts when the framework instance is not what it claims to be', async () => {
    const impostors = [
      { getType: () => 'express', getInstance: () => ({ request: null }) },
      { getType: () => 'fastify', getInstance: () => ({}) },
      { getType: () => 'express', getInstance: () => undefined },
      {
        getType: () => 'express',
        getInstance: () => {
          throw new Error('no instance');
        },
      },
    ] as unknown as Array<Parameters<typeof clientFactsOf>[0]>;
    for (const adapter of impostors) {
      const raw = await rawServer(clientFactsOf(adapter));
      try {
        expect(await getJson(raw.url, FORWARDED)).toEqual({ ip: '127.0.0.1', secure: false });
      } finally {
        await new Promise((resolve) => raw.server.close(resolve));
      }
    }
  });

  it.each(ADAPTERS)('never throws on %s, even for a request without a socket', async (adapter: AdapterName) => {
    const t = await startApp({ adapter, controllers: [], trustProxy: true });
    try {
      const facts = clientFactsOf(t.app.getHttpAdapter());
      const broken = [
        { headers: FORWARDED, socket: null },
        { headers: {}, socket: {} },
        { headers: { 'x-forwarded-for': ['a', 'b'], 'x-forwarded-proto': ['https', 'http'] }, socket: { remoteAddress: 'not an ip' } },
      ] as unknown as IncomingMessage[];
      for (const request of broken) {
        const answer = facts(request);
        expect(typeof answer.secure).toBe('boolean');
        expect(answer.ip === undefined || typeof answer.ip === 'string').toBe(true);
      }
      expect(facts({ headers: FORWARDED, socket: null } as unknown as IncomingMessage)).toEqual({ ip: undefined, secure: false });
    } finally {
      await t.close();
    }
  });
});
