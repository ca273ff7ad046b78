import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { calibrationOf, describeCalibration, isAdditive } from '../../bench/calibration.js';
import { selectedVariants } from '../../bench/http.js';
import { httpSection } from '../../bench/report-http.js';
import { CalibrationController, CalibrationModule } from '../../bench/servers/calibration.js';
import { CeilingModule } from '../../bench/servers/ceiling.js';
import { CALIBRATION_SPIN_US } from '../../bench/servers/shared.js';
import { cpuIdle } from '../../bench/support/machine.js';
import type { Results, VariantResult } from '../../bench/support/results.js';
import { results, variant } from './fake-run.js';
import { checkTargets } from '../../bench/targets.js';
import { ADAPTERS, startApp } from '../support/app.js';

/** A run of `variants`; `none`: a run from before the calibration. */
function run(variants: VariantResult[], calibrationUs: number | 'none' = 4): Results {
  return results(variants, {}, calibrationUs === 'none' ? {} : { calibrationUs });
}

/** A variant whose start failed. */
function failed(id: string, cpu: [number, number]): VariantResult {
  return { ...variant(id, cpu), status: 'failed' };
}

describe('the calibration variants of the bench', () => {
  it('run beside every selection of a framework', () => {
    const ids = selectedVariants({ variants: ['fastify-connected-memory'] }).map((v) => v.id);
    expect(ids).toEqual(['fastify-ceiling', 'fastify-calibration', 'fastify-connected-memory']);
    const all = selectedVariants({ variants: undefined });
    expect(all.filter((v) => v.library === 'calibration').map((v) => v.id)).toEqual(['express-calibration', 'fastify-calibration']);
  });

  it('read as additive when the known cost measures within half of itself, and as inflated otherwise', () => {
    const near = calibrationOf(run([variant('express-ceiling', [25, 26]), variant('express-calibration', [28.6, 30.4])]), 'express')!;
    expect(near.measured.map((m) => m.us)).toEqual([expect.closeTo(3.6, 6), expect.closeTo(4.4, 6)]);
    expect(isAdditive(near)).toBe(true);
    expect(describeCalibration(near)).toBe('a known 4 µs measured 3.6 µs (read-1), 4.4 µs (read-many)');

    const inflated = calibrationOf(run([variant('express-ceiling', [28, 27]), variant('express-calibration', [37.6, 36.2])]), 'express')!;
    expect(isAdditive(inflated)).toBe(false);
    expect(describeCalibration(inflated)).toBe(
      'a known 4 µs measured 9.6 µs (read-1), 9.2 µs (read-many): **not additive on this machine** (measured ÷ known 2.4, 2.3)',
    );
    const swallowed = calibrationOf(run([variant('fastify-ceiling', [16, 16]), variant('fastify-calibration', [17, 21])]), 'fastify')!;
    expect(isAdditive(swallowed)).toBe(false);
  });

  it('give no calibration for a run without them, or one whose calibration failed', () => {
    expect(calibrationOf(run([variant('express-ceiling', [25, 26])]), 'express')).toBeUndefined();
    expect(
      calibrationOf(run([variant('express-ceiling', [25, 26]), variant('express-calibration', [29, 30])], 'none'), 'express'),
    ).toBeUndefined();
    expect(calibrationOf(run([variant('express-ceiling', [25, 26]), failed('express-calibration', [29, 30])]), 'express')).toBeUndefined();
  });

  it("appear beside the ceiling targets' figures and in the report's HTTP section", () => {
    const mixed = run([
      variant('express-ceiling', [28, 27]),
      variant('express-calibration', [37.6, 36.2]),
      variant('express-connected-memory', [38, 37]),
      variant('fastify-ceiling', [16, 16]),
      variant('fastify-connected-memory', [18, 18]),
    ]);
    const [express, fastify] = checkTargets(mixed);
    expect(express!.figure).toContain('; calibration: a known 4 µs measured 9.6 µs (read-1), 9.2 µs (read-many): **not additive');
    expect(fastify!.figure).not.toContain('calibration');
    const section = httpSection(mixed);
    expect(section).toContain('### Calibration');
    expect(section).toContain('- Express: a known 4 µs measured 9.6 µs (read-1)');
    expect(section).not.toContain('- Fastify:');
    expect(httpSection(run([variant('express-ceiling', [28, 27])]))).not.toContain('### Calibration');
  });
});

describe('the calibration server', () => {
  for (const adapter of ADAPTERS) {
    it(`answers every route as the ceiling does on ${adapter}, and busy-waits ${CALIBRATION_SPIN_US} µs in /read and /write`, async () => {
      const ceiling = await startApp({ adapter, standalone: true, imports: [CeilingModule] });
      const calibration = await startApp({ adapter, standalone: true, imports: [CalibrationModule] });
      try {
        for (const [method, path] of [
          ['POST', '/login'],
          ['GET', '/read'],
          ['POST', '/write'],
        ] as const) {
          const [a, b] = await Promise.all([ceiling, calibration].map((t) => fetch(`${t.url}${path}`, { method })));
          expect({ path, status: b!.status, body: await b!.text() }).toEqual({ path, status: a!.status, body: await a!.text() });
        }
        // The busy-wait is by the clock, so the handler cannot return sooner: a lower bound, never a flaky one.
        const controller = calibration.app.get(CalibrationController, { strict: false });
        for (const route of [() => controller.read(), () => controller.write()]) {
          const before = performance.now();
          for (let i = 0; i < 100; i++) expect(route()).toHaveProperty('counter');
          expect((performance.now() - before) * 1000).toBeGreaterThanOrEqual(100 * CALIBRATION_SPIN_US);
        }
      } finally {
        await Promise.all([ceiling.close(), calibration.close()]);
      }
    });
  }
});

describe("the machine's idle description", () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'sysfs-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));
  const put = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), `${text}\n`);
  };

  it('names the driver, the governor and the guest halt polling, and says when an idle core halts at once', () => {
    put('devices/system/cpu/cpuidle/current_driver', 'haltpoll');
    put('devices/system/cpu/cpuidle/current_governor', 'haltpoll');
    put('module/haltpoll/parameters/guest_halt_poll_ns', '0');
    expect(cpuIdle(root)).toBe('cpuidle driver haltpoll, governor haltpoll, guest_halt_poll_ns 0 (an idle core halts at once)');
    put('module/haltpoll/parameters/guest_halt_poll_ns', '200000');
    expect(cpuIdle(root)).toBe('cpuidle driver haltpoll, governor haltpoll, guest_halt_poll_ns 200000');
  });

  it('leaves out what the kernel does not have, and says nothing without cpuidle', () => {
    put('devices/system/cpu/cpuidle/current_driver', 'intel_idle');
    put('devices/system/cpu/cpuidle/current_governor_ro', 'menu');
    expect(cpuIdle(root)).toBe('cpuidle driver intel_idle, governor menu');
    rmSync(join(root, 'devices'), { recursive: true });
    expect(cpuIdle(root)).toBeUndefined();
  });
});
