import { redisStoreOptions } from '../../bench/servers/shared.js';
import { benchEnv, readConfig } from '../../bench/support/config.js';
import { processCpuUs } from '../../bench/support/cpu.js';
import { parseAffinity, splitCpus } from '../../bench/support/pinning.js';

const saved = { ...process.env };

afterEach(() => {
  for (const name of Object.keys(process.env)) if (name.startsWith('BENCH_')) delete process.env[name];
  Object.assign(process.env, saved);
});

describe('bench configuration', () => {
  it('runs every section and cell on the headline line, and what the targets need on the others', () => {
    expect(readConfig()).toMatchObject({
      sections: ['http', 'memory', 'live-memory', 'growth', 'sockets', 'window'],
      cells: ['read-1', 'write-1', 'read-many', 'write-many'],
      liveSessions: 10_000,
      windowWrites: 1000,
    });
    process.env['BENCH_LINE_ROLE'] = 'other';
    expect(readConfig()).toMatchObject({ sections: ['http', 'live-memory', 'sockets', 'window'], cells: ['read-1', 'read-many'] });
    // BENCH_ONLY narrows within what the line runs: no growth section on a line after the headline.
    process.env['BENCH_ONLY'] = 'growth,http';
    expect(readConfig().sections).toEqual(['http']);
  });

  it('starts each HTTP server twice unless told, never more often than there are slices to share out', () => {
    expect(readConfig()).toMatchObject({ rounds: 4, starts: 2 });
    process.env['BENCH_ROUNDS'] = '1';
    expect(readConfig()).toMatchObject({ rounds: 1, starts: 1 });
    process.env['BENCH_STARTS'] = '3';
    expect(() => readConfig()).toThrow('BENCH_STARTS (3) must be at most BENCH_ROUNDS (1)');
    process.env['BENCH_ROUNDS'] = '6';
    expect(readConfig()).toMatchObject({ rounds: 6, starts: 3 });
  });

  it('refuses an unknown cell or section, naming the variable', () => {
    process.env['BENCH_CELLS'] = 'read-1,read-2';
    expect(() => readConfig()).toThrow("BENCH_CELLS: unknown cell 'read-2'");
    delete process.env['BENCH_CELLS'];
    process.env['BENCH_ONLY'] = 'cpu';
    expect(() => readConfig()).toThrow("BENCH_ONLY: unknown section 'cpu'");
  });

  it("reports the user's BENCH_* settings sorted, not the ones lines.ts sets for each line", () => {
    process.env['BENCH_SECONDS'] = '2';
    process.env['BENCH_LINES'] = '24';
    process.env['BENCH_LINE_OUT'] = '/tmp/out.json';
    process.env['BENCH_LINE_ROLE'] = 'other';
    expect(Object.entries(benchEnv())).toEqual([
      ['BENCH_LINES', '24'],
      ['BENCH_SECONDS', '2'],
    ]);
  });

  it('takes extra RedisStore options as a JSON object, and refuses anything else', () => {
    expect(redisStoreOptions()).toEqual({});
    process.env['BENCH_REDIS_STORE_OPTIONS'] = '{"nearCache":true}';
    expect(redisStoreOptions()).toEqual({ nearCache: true });
    process.env['BENCH_REDIS_STORE_OPTIONS'] = '[true]';
    expect(() => redisStoreOptions()).toThrow('BENCH_REDIS_STORE_OPTIONS must be a JSON object');
  });
});

describe("another process's CPU from /proc", () => {
  it("reads this process's utime + stime as process.cpuUsage() counts them, to a few clock ticks", () => {
    let spin = 0;
    for (let i = 0; i < 5_000_000; i++) spin += Math.sqrt(i);
    expect(spin).toBeGreaterThan(0);
    const own = process.cpuUsage();
    const fromProc = processCpuUs(process.pid);
    // /proc counts 10 ms ticks and truncates; a few ticks apart at most.
    expect(Math.abs(fromProc - (own.user + own.system))).toBeLessThan(50_000);
  });

  it('throws for a process that does not exist', () => {
    expect(() => processCpuUs(2 ** 22 + 1)).toThrow(/ENOENT/);
  });
});

describe('CPU pinning of the bench', () => {
  it("reads taskset's affinity list, ranges included, and refuses anything else", () => {
    expect(parseAffinity("pid 4585's current affinity list: 0-2,4\n")).toEqual([0, 1, 2, 4]);
    expect(parseAffinity("pid 1's current affinity list: 1")).toEqual([1]);
    expect(parseAffinity("pid 1's current affinity list: 3-1")).toBeUndefined();
    expect(parseAffinity('taskset: failed to get pid 1')).toBeUndefined();
  });

  it('gives the server the last CPU and the load generator the others; none on one CPU or with BENCH_PIN=0', () => {
    expect(splitCpus([0, 1], undefined)).toEqual({ server: '1', client: '0' });
    expect(splitCpus([0, 1, 2, 4], undefined)).toEqual({ server: '4', client: '0,1,2' });
    expect(splitCpus([3], undefined)).toBeUndefined();
    expect(splitCpus(undefined, undefined)).toBeUndefined();
    expect(splitCpus([0, 1], '0')).toBeUndefined();
  });
});
