import { BadRequestException, Body, Controller, Get, Param, Post } from '@nestjs/common';
import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { SessionContext } from '../../lib/context/session-context.js';
import { Connected, CurrentUser, SessionKey, SessionService } from '../../lib/index.js';
import type { Deferred } from './lifecycle-helpers.js';
import { TAB_COUNT } from './live.gateway.js';

/** One call of a key's `onDelete` or `onNoClient`, in the order they happened. */
export interface HookCall {
  hook: 'onDelete' | 'onNoClient';
  key: string;
  value: string;
}

/** Every `onDelete` / `onNoClient` call of the keys below (tests use unique values and filter with {@link callsFor}). */
export const hookCalls: HookCall[] = [];

/** The calls that concerned one value. */
export function callsFor(value: string): HookCall[] {
  return hookCalls.filter((call) => call.value === value);
}

/** Switches the tests flip to hold a callback at a known point. */
export const gates: {
  /** When set, `onDelete` of {@link PROC} waits for it (after recording its call). */
  procDelete?: Deferred;
  /** When set, `onNoClient` of the 'slow' key waits for it (after recording its call), then drops the value. */
  slowNoClient?: Deferred;
} = {};

function record(hook: HookCall['hook'], key: string, value: string): void {
  hookCalls.push({ hook, key, value });
}

/** In-memory session-scoped keys whose `onNoClient` answers differently; all record their `onDelete`. */
export const CONN_KEYS = {
  drop: new SessionKey<string>('clients-conn-drop', {
    onNoClient: (value) => {
      record('onNoClient', 'clients-conn-drop', value);
      return false;
    },
    onDelete: (value) => record('onDelete', 'clients-conn-drop', value),
  }),
  keep: new SessionKey<string>('clients-conn-keep', {
    onNoClient: (value) => {
      record('onNoClient', 'clients-conn-keep', value);
      return true;
    },
    onDelete: (value) => record('onDelete', 'clients-conn-keep', value),
  }),
  throw: new SessionKey<string>('clients-conn-throw', {
    onNoClient: (value) => {
      record('onNoClient', 'clients-conn-throw', value);
      throw new Error('onNoClient exploded');
    },
    onDelete: (value) => record('onDelete', 'clients-conn-throw', value),
  }),
  reject: new SessionKey<string>('clients-conn-reject', {
    onNoClient: async (value) => {
      record('onNoClient', 'clients-conn-reject', value);
      throw new Error('onNoClient rejected');
    },
    onDelete: (value) => record('onDelete', 'clients-conn-reject', value),
  }),
  slow: new SessionKey<string>('clients-conn-slow', {
    onNoClient: async (value) => {
      record('onNoClient', 'clients-conn-slow', value);
      await gates.slowNoClient?.promise;
      return false;
    },
    onDelete: (value) => record('onDelete', 'clients-conn-slow', value),
  }),
  /** No onNoClient at all: such values always stay while the session lives. */
  plain: new SessionKey<string>('clients-conn-plain', {
    onDelete: (value) => record('onDelete', 'clients-conn-plain', value),
  }),
} as const;

export type ConnKeyName = keyof typeof CONN_KEYS;

/** A process-scoped in-memory key whose `onDelete` is recorded (and can be held with `gates.procDelete`). */
export const PROC = new SessionKey<string>('clients-proc', {
  scope: 'process',
  onDelete: async (value) => {
    record('onDelete', 'clients-proc', value);
    await gates.procDelete?.promise;
  },
});

/** A persisted browser-scoped key: writing it before login opens an anonymous session. */
export const CLIENTS_CART = new SessionKey<string>('clients-cart', { scope: 'browser', persist: true });

function connKey(name: unknown): SessionKey<string> {
  if (typeof name !== 'string' || !Object.hasOwn(CONN_KEYS, name)) throw new BadRequestException(`unknown key ${String(name)}`);
  return CONN_KEYS[name as ConnKeyName];
}

/**
 * The gateway of the clients / process specs; every handler answers `{ event, data }` with its own event name:
 * - `whoami` (@Connected) → `{ user }`; `process` (no guard) → `{ process }`, the socket's process id
 * - `conn-set {key, value}` / `conn-get {key}` (@Connected): a {@link CONN_KEYS} value → `{ ok }` / `{ value }`
 * - `proc-set {value}` / `proc-get` (@Connected): the {@link PROC} value of the socket's process
 * - `tab` (@Connected): increments the process-scoped TAB_COUNT of live.gateway → `{ count }`
 * - `logout` (@Connected): disconnect() → `{ ok: true }` (the socket is closed by the library right after)
 */
@WebSocketGateway()
export class ClientsGateway {
  constructor(private readonly sessions: SessionService) {}

  @Connected()
  @SubscribeMessage('whoami')
  whoami(@CurrentUser() user: string) {
    return { event: 'whoami', data: { user } };
  }

  @SubscribeMessage('process')
  process() {
    return { event: 'process', data: { process: SessionContext.current()?.processId ?? null } };
  }

  @Connected()
  @SubscribeMessage('conn-set')
  async connSet(@MessageBody() body: { key: string; value: string }) {
    await this.sessions.set(connKey(body.key), body.value);
    return { event: 'conn-set', data: { ok: true } };
  }

  @Connected()
  @SubscribeMessage('conn-get')
  async connGet(@MessageBody() body: { key: string }) {
    return { event: 'conn-get', data: { value: (await this.sessions.get(connKey(body.key))) ?? null } };
  }

  @Connected()
  @SubscribeMessage('proc-set')
  async procSet(@MessageBody() body: { value: string }) {
    await this.sessions.set(PROC, body.value);
    return { event: 'proc-set', data: { ok: true } };
  }

  @Connected()
  @SubscribeMessage('proc-get')
  async procGet() {
    return { event: 'proc-get', data: { value: (await this.sessions.get(PROC)) ?? null } };
  }

  @Connected()
  @SubscribeMessage('tab')
  async tab() {
    const count = ((await this.sessions.get(TAB_COUNT)) ?? 0) + 1;
    await this.sessions.set(TAB_COUNT, count);
    return { event: 'tab', data: { count } };
  }

  @Connected()
  @SubscribeMessage('logout')
  async logout() {
    await this.sessions.disconnect();
    return { event: 'logout', data: { ok: true } };
  }
}

/**
 * The HTTP side of the same data (process-scoped routes use the request's `x-process-id` header):
 * - `GET /clients/conn/:key` → `{ value }` (null when absent); `POST /clients/conn/:key {value}` → `{ ok }`
 * - `GET /clients/proc` → `{ value }`; `POST /clients/proc {value}` → `{ ok }`
 * - `GET /clients/tab` → `{ count }` (null when absent); `POST /clients/tab {count}` → `{ ok }`
 * - `POST /clients/cart {item}` (no guard): a browser-scoped persisted value (opens an anonymous session)
 * (all @Connected except /cart)
 */
@Controller('clients')
export class ClientsController {
  constructor(private readonly sessions: SessionService) {}

  @Connected()
  @Get('conn/:key')
  async getConn(@Param('key') key: string) {
    return { value: (await this.sessions.get(connKey(key))) ?? null };
  }

  @Connected()
  @Post('conn/:key')
  async setConn(@Param('key') key: string, @Body() body: { value: string }) {
    await this.sessions.set(connKey(key), body.value);
    return { ok: true };
  }

  @Connected()
  @Get('proc')
  async getProc() {
    return { value: (await this.sessions.get(PROC)) ?? null };
  }

  @Connected()
  @Post('proc')
  async setProc(@Body() body: { value: string }) {
    await this.sessions.set(PROC, body.value);
    return { ok: true };
  }

  @Connected()
  @Get('tab')
  async getTab() {
    return { count: (await this.sessions.get(TAB_COUNT)) ?? null };
  }

  @Connected()
  @Post('tab')
  async setTab(@Body() body: { count: number }) {
    await this.sessions.set(TAB_COUNT, body.count);
    return { ok: true };
  }

  @Post('cart')
  async cart(@Body() body: { item: string }) {
    await this.sessions.set(CLIENTS_CART, body.item);
    return { ok: true };
  }
}
