import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

/** A reverse proxy in front of a test app, as a TLS-terminating one would be (minus the TLS). */
export interface ForwardingProxy {
  /** http://127.0.0.1:port of the proxy: point browsers and socket clients here. */
  readonly url: string;
  close(): Promise<void>;
}

/** The X-Forwarded-* headers the proxy adds to every request and upgrade, replacing any the client sent. */
export interface Forwarded {
  /** `X-Forwarded-For`: the address the proxy claims the client has. */
  for?: string;
  /** `X-Forwarded-Proto`, e.g. 'https' for a proxy that terminated TLS. */
  proto?: string;
}

/** The request's headers as raw lines, without the client's own X-Forwarded-*, with the proxy's added. */
function forwardedHeaders(request: IncomingMessage, forwarded: Forwarded): Array<[string, string]> {
  const lines: Array<[string, string]> = [];
  for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i]!;
    if (!/^x-forwarded-/i.test(name)) lines.push([name, request.rawHeaders[i + 1]!]);
  }
  if (forwarded.for !== undefined) lines.push(['X-Forwarded-For', forwarded.for]);
  if (forwarded.proto !== undefined) lines.push(['X-Forwarded-Proto', forwarded.proto]);
  return lines;
}

/**
 * Starts a proxy on a free loopback port that forwards HTTP requests and WebSocket upgrades to `target` (the app's
 * http://127.0.0.1:port) with the headers of {@link Forwarded}. Real clients (fetch, socket.io-client, ws) talk to
 * it unchanged, so the app sees what it would see behind nginx: the proxy as TCP peer, the client in the headers.
 */
export async function startForwardingProxy(target: string, forwarded: Forwarded): Promise<ForwardingProxy> {
  const { hostname, port } = new URL(target);
  const tunnels = new Set<Socket>();
  const server = createServer((request, response) => {
    const upstream = httpRequest(
      { host: hostname, port, method: request.method, path: request.url, headers: forwardedHeaders(request, forwarded).flat() },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on('error', () => response.destroy());
    request.pipe(upstream);
  });
  server.on('upgrade', (request: IncomingMessage, client: Socket, head: Buffer) => {
    const upstream = connect({ host: hostname, port: Number(port) });
    tunnels.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      tunnels.delete(client);
      tunnels.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    upstream.on('connect', () => {
      const lines = forwardedHeaders(request, forwarded).map(([name, value]) => `${name}: ${value}\r\n`);
      upstream.write(`${request.method} ${request.url} HTTP/1.1\r\n${lines.join('')}\r\n`);
      if (head.length > 0) upstream.write(head);
      client.pipe(upstream).pipe(client);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of tunnels) socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
