import { BadRequestException, Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { SessionData, SessionService } from 'nestjs-connected';
import { CART } from '../keys.js';

@Controller('api/cart')
export class CartController {
  constructor(private readonly sessions: SessionService) {}

  @Get()
  cart(@SessionData(CART) items: string[] | undefined) {
    return { items: items ?? [] };
  }

  /** Writing browser data before login opens an anonymous session (and sets the cookie). */
  @Post()
  @HttpCode(200)
  async add(@Body() body: { item?: unknown }) {
    if (typeof body?.item !== 'string' || body.item.length === 0 || body.item.length > 100) {
      throw new BadRequestException('item must be a string of 1-100 characters');
    }
    const items = [...((await this.sessions.get(CART)) ?? []), body.item].slice(-50);
    await this.sessions.set(CART, items);
    return { items };
  }

  @Post('empty')
  @HttpCode(200)
  async empty() {
    await this.sessions.remove(CART);
    return { items: [] };
  }
}
