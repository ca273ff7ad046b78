import { Controller, Get, Header } from '@nestjs/common';
import { readFileSync } from 'node:fs';

/** A file of public/ (next to this folder; `npm run build:sample` copies it next to the build), read once. */
const asset = (name: string): string => readFileSync(new URL(`../public/${name}`, import.meta.url), 'utf8');
const SCRIPT = asset('app.js');
const STYLE = asset('style.css');

/** The pages' script and style sheet. */
@Controller('assets')
export class AssetsController {
  @Get('app.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  script() {
    return SCRIPT;
  }

  @Get('style.css')
  @Header('Content-Type', 'text/css; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  style() {
    return STYLE;
  }
}
