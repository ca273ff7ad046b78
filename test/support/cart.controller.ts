import { Body, Controller, Get, Post } from '@nestjs/common';
import { SessionKey, SessionService } from '../../lib/index.js';

/** A persisted browser-scoped value: it survives login and logout. (Key names are global: this one is 'support.cart'.) */
export const CART = new SessionKey<string>('support.cart', { scope: 'browser', persist: true });

/**
 * A shopping cart kept in {@link CART}, usable with or without a user:
 * - `POST /cart {item}`: sets the cart (before login this opens an anonymous session) → `{ ok: true }`
 * - `GET /cart` → `{ cart }`, the item or null
 */
@Controller()
export class CartController {
  constructor(private readonly sessions: SessionService) {}

  @Post('cart')
  async fill(@Body() body: { item: string }) {
    await this.sessions.set(CART, body.item);
    return { ok: true };
  }

  @Get('cart')
  async cart() {
    return { cart: (await this.sessions.get(CART)) ?? null };
  }
}
