import { SessionKey } from 'nestjs-connected';

/** The cart lives in the browser scope: it is there before login and survives login and logout. */
export const CART = new SessionKey<string[]>('sample.cart', { scope: 'browser', persist: true });

/** A per-login counter: session scope, dropped at login and logout. */
export const VISITS = new SessionKey<number>('sample.visits', { persist: true });
