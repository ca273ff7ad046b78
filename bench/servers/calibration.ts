import { Controller, Get, HttpCode, Module, Post, UseGuards } from '@nestjs/common';
import { AlwaysGuard, CeilingController } from './ceiling.js';
import { CALIBRATION_SPIN_US } from './shared.js';

/**
 * Busy-waits `CALIBRATION_SPIN_US` of wall time. The server runs alone on its core, so that is CPU time too: a
 * cost known in advance, which the bench then measures like any variant's.
 */
function spin(): void {
  const end = performance.now() + CALIBRATION_SPIN_US / 1000;
  while (performance.now() < end);
}

/**
 * The ceiling with a known cost added to `GET /read` and `POST /write`. What the bench measures it to add says whether
 * server CPU per request is additive on the machine: on a virtual machine whose idle core halts instead of polling,
 * the wake-ups of the other core grow with each added µs, and a variant's added cost comes out inflated
 * (docs/ARCHITECTURE.md, "Per-request cost"). It runs in every cell, as the other variants do, so that it is never
 * the one server that sat idle while the others were loaded.
 */
@Controller()
export class CalibrationController extends CeilingController {
  @UseGuards(AlwaysGuard)
  @Get('read')
  override read() {
    spin();
    return super.read();
  }

  @UseGuards(AlwaysGuard)
  @Post('write')
  @HttpCode(200)
  override write() {
    spin();
    return super.write();
  }
}

@Module({ controllers: [CalibrationController], providers: [AlwaysGuard] })
export class CalibrationModule {}
