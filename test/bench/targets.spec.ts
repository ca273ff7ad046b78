import { checkTargets, type TargetCheck } from '../../bench/targets.js';
import { results, variant } from './fake-run.js';

const byId = (checks: TargetCheck[], id: string) => checks.find((c) => c.id === id)!;

describe('bench targets (issue 15)', () => {
  it('meets the ceiling targets by server CPU: ≥ 0.9 on Express, ≥ 0.8 on Fastify', () => {
    const checks = checkTargets(
      results([
        variant('express-ceiling', [50, 50]),
        variant('express-connected-memory', [55, 55]),
        variant('fastify-ceiling', [25, 25]),
        variant('fastify-connected-memory', [32, 30]),
      ]),
    );
    expect(byId(checks, 'express-ceiling').met).toBe(true);
    expect(byId(checks, 'express-ceiling').figure).toContain('0.91 (read-1)');
    expect(byId(checks, 'express-ceiling').figure).not.toContain('one start');
    // 25 / 32 = 0.78 on one cell: missed.
    expect(byId(checks, 'fastify-ceiling').met).toBe(false);
  });

  it('compares RedisStore with its MemoryStore and with connect-redis by server CPU, and redis-server CPU per request', () => {
    const checks = checkTargets(
      results([
        variant('express-ceiling', [50, 50]),
        variant('express-session-redis', [160, 160], [8, 8]),
        variant('express-connected-memory', [60, 60]),
        variant('express-connected-redis', [64, 100], [4, 12]),
        variant('fastify-ceiling', [25, 25]),
        variant('fastify-connected-memory', [30, 30]),
        variant('fastify-connected-redis', [32, 33]),
      ]),
    );
    // Express read-many: 60 / 100 = 0.6.
    expect(byId(checks, 'redis-vs-memory').met).toBe(false);
    // 160 / 64 = 2.5 and 160 / 100 = 1.6.
    expect(byId(checks, 'redis-vs-connect-redis').met).toBe(true);
    // 12 µs against connect-redis's 8 on read-many.
    expect(byId(checks, 'redis-server-cpu').met).toBe(false);
    expect(byId(checks, 'redis-server-cpu').figure).toContain('12.0 µs (read-many)');
  });

  it("names each start's ratio beside the ratio over all starts, which alone decides the target", () => {
    const ours = variant('express-connected-memory', [55, 55]);
    ours.cells[0]!.startsCpuRatios = [0.87, 0.95];
    ours.cells[1]!.startsCpuRatios = [0.93, Number.NaN, 0.89];
    const checks = checkTargets(results([variant('express-ceiling', [50, 50]), ours]));
    expect(byId(checks, 'express-ceiling')).toMatchObject({ met: true });
    expect(byId(checks, 'express-ceiling').figure).toContain('one start against one start of the ceiling 0.87/0.95, 0.93/0.89');
  });

  it('says "no figure", neither met nor missed, when a variant is pending or a section did not run', () => {
    const pending = variant('express-connected-redis', [1, 1]);
    pending.status = 'pending';
    const checks = checkTargets(results([variant('express-ceiling', [50, 50]), pending], { window: { pending: 'no redis-server' } }));
    for (const id of ['redis-vs-connect-redis', 'redis-server-cpu', 'live-memory', 'sockets', 'fastify-ceiling']) {
      expect(byId(checks, id)).toMatchObject({ met: undefined, figure: 'no figure' });
    }
    expect(byId(checks, 'window')).toMatchObject({ met: undefined, figure: 'pending: no redis-server' });
  });

  it('holds live-server memory to express-session, sockets to 1.1× plain, and the window to 5 ms at p99 with every write seen', () => {
    const live = (id: string, bytes: number, problems: string[] = []) => ({
      id,
      framework: id.startsWith('express') ? ('express' as const) : ('fastify' as const),
      label: id,
      sessions: 10_000,
      baseline: 0,
      afterLogins: 0,
      afterRequests: 0,
      bytesPerSessionAfterLogins: bytes,
      bytesPerSession: bytes,
      problems,
    });
    const window = {
      writes: 1000,
      storeOptions: {},
      p50: 0.1,
      p99: 4.9,
      max: 6,
      mean: 0.2,
      firstReadFresh: 900,
      neverSeen: 0,
      steadyGetP50: 0.01,
    };
    const heap = (mode: 'plain' | 'connected', bytesPerSocket: number) => ({
      mode,
      sockets: 2000,
      heapStart: 0,
      heapAfterLogins: 0,
      heapAfterSockets: 0,
      bytesPerSocket,
    });
    const checks = checkTargets(
      results([], {
        liveMemory: [live('express-connected-memory', 380), live('fastify-connected-memory', 390), live('express-session-memory', 390)],
        sockets: { heap: [heap('plain', 18_700), heap('connected', 20_000)], messages: [], problems: [] },
        window,
      }),
    );
    expect(byId(checks, 'live-memory').met).toBe(true);
    expect(byId(checks, 'sockets').met).toBe(true);
    expect(byId(checks, 'window').met).toBe(true);

    const worse = checkTargets(
      results([], {
        // A measurement with failed reads gives no figure rather than a flattering one.
        liveMemory: [
          live('express-connected-memory', 300, ['3 of 10000 guarded reads did not answer 200']),
          live('express-session-memory', 390),
        ],
        sockets: { heap: [heap('plain', 18_700), heap('connected', 24_500)], messages: [], problems: [] },
        window: { ...window, neverSeen: 1 },
      }),
    );
    expect(byId(worse, 'live-memory').met).toBeUndefined();
    expect(byId(worse, 'sockets')).toMatchObject({ met: false, figure: '1.31× (23.9 KB against 18.3 KB)' });
    expect(byId(worse, 'window').met).toBe(false);
  });
});
