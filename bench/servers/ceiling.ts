import { Controller, Get, HttpCode, Injectable, Module, Post, UseGuards, type CanActivate } from '@nestjs/common';

/** The ceiling's "guard": same place in the pipeline as the session guards, always passes. */
@Injectable()
export class AlwaysGuard implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}

/** The same routes without any session: what the framework and Nest cost alone. */
@Controller()
export class CeilingController {
  private counter = 0;

  @Post('login')
  @HttpCode(200)
  login() {
    return { ok: true };
  }

  @UseGuards(AlwaysGuard)
  @Get('read')
  read() {
    return { counter: 0 };
  }

  @UseGuards(AlwaysGuard)
  @Post('write')
  @HttpCode(200)
  write() {
    this.counter += 1;
    return { counter: this.counter };
  }
}

@Module({ controllers: [CeilingController], providers: [AlwaysGuard] })
export class CeilingModule {}
