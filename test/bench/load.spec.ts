import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CpuReading } from '../../bench/support/cpu.js';
import { SlicedCell, type LoadOptions } from '../../bench/support/load.js';

/** A real HTTP server on a loopback port that counts what it answers. */
async function countingServer(): Promise<{ server: Server; url: string; answered: () => number }> {
  let answered = 0;
  const server = createServer((_request, response) => {
    answered++;
    response.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, answered: () => answered };
}

/** A CPU counter that advances by `step` µs each time it is read: a known figure to divide. */
function counter(step: number): () => Promise<CpuReading> {
  let total = 0;
  return () => Promise.resolve({ serverUs: (total += step) });
}

describe('a cell measured over several starts of its server', () => {
  const servers: Server[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  });

  it('loads the new start after restarted(), and gives each start its own CPU per request beside the total', async () => {
    const first = await countingServer();
    const second = await countingServer();
    servers.push(first.server, second.server);
    const options = (url: string, step: number): LoadOptions => ({
      url,
      method: 'GET',
      path: '/',
      cookies: ['s=1'],
      connections: 2,
      cpu: counter(step),
    });
    const cell = new SlicedCell(options(first.url, 1000));
    await cell.slice(0.3);
    const firstAnswers = first.answered();
    cell.restarted(options(second.url, 3000));
    await cell.slice(0.3);

    expect(firstAnswers).toBeGreaterThan(0);
    // At most the connections' last requests, in flight when the first slice ended, reach the first server later.
    expect(first.answered() - firstAnswers).toBeLessThanOrEqual(2);
    // More than those stragglers could be: the second slice loaded the second server. (How many more depends on how
    // busy the machine is, so no larger bound.)
    expect(second.answered()).toBeGreaterThan(2);
    const result = cell.result();
    // Each slice reads its counter twice: one step of CPU per slice, spread over the answers the load counted in
    // that start (the server may have answered a request or two more, after the load stopped counting).
    const [perFirst, perSecond] = result.startsCpuUsPerRequest ?? [];
    const counted = [1000 / perFirst!, 3000 / perSecond!];
    expect(counted[0]! + counted[1]!).toBeCloseTo(result.responses, 6);
    expect(counted[0]).toBeGreaterThan(0);
    expect(counted[0]).toBeLessThanOrEqual(first.answered());
    expect(counted[1]).toBeGreaterThan(0);
    expect(counted[1]).toBeLessThanOrEqual(second.answered());
    expect(result.serverCpuUsPerRequest).toBeCloseTo(4000 / result.responses, 9);
  });

  it('gives no per-start figures for a server started once', async () => {
    const only = await countingServer();
    servers.push(only.server);
    const cell = new SlicedCell({ url: only.url, method: 'GET', path: '/', cookies: ['s=1'], connections: 1, cpu: counter(10) });
    await cell.slice(0.2);
    expect(cell.result().startsCpuUsPerRequest).toBeUndefined();
    const { responses, serverCpuUsPerRequest } = cell.result();
    expect(responses).toBeGreaterThan(0);
    expect(responses).toBeLessThanOrEqual(only.answered());
    expect(serverCpuUsPerRequest).toBeCloseTo(10 / responses, 9);
  });
});
