import { Injectable, UseGuards, type CanActivate, type Type } from '@nestjs/common';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { Connected, CurrentUser, OnSessionEvent, type SessionEvent } from '../../lib/index.js';
import type { SocketKind } from './sockets.js';

/** How many times each misbehaving hook ran. */
export interface SafetyCounts {
  syncConnect: number;
  rejectConnect: number;
  throwDisconnect: number;
  guards: number;
}

/** Where a gateway of the safety spec listens: a ws path or a socket.io namespace, the same string. */
export const SAFETY_PATHS = {
  syncThrow: '/sync-throw',
  reject: '/reject-connect',
  disconnect: '/throw-disconnect',
  guards: '/guards',
} as const;

class ThrowingGuard implements CanActivate {
  constructor(private readonly counts: SafetyCounts) {}

  canActivate(): boolean {
    this.counts.guards++;
    throw new Error('guard exploded');
  }
}

class RejectingGuard implements CanActivate {
  constructor(private readonly counts: SafetyCounts) {}

  async canActivate(): Promise<boolean> {
    this.counts.guards++;
    await Promise.resolve();
    throw new Error('guard rejected');
  }
}

/**
 * Gateways that misbehave, each on its own ws path / socket.io namespace (the options differ per kind, so the
 * classes are made per kind). Each answers `ping` (@Connected) with `{ user, gateway }`:
 * - {@link SAFETY_PATHS}.syncThrow: `handleConnection` throws synchronously
 * - reject: `handleConnection` returns a rejected promise
 * - disconnect: `handleDisconnect` throws
 * - guards: `guard-throw` has a guard that throws, `guard-reject` one that rejects
 */
export function safetyGateways(kind: SocketKind): { gateways: Type[]; counts: SafetyCounts } {
  const counts: SafetyCounts = { syncConnect: 0, rejectConnect: 0, throwDisconnect: 0, guards: 0 };
  const at = (path: string) => (kind === 'ws' ? { path } : { namespace: path });

  @WebSocketGateway(at(SAFETY_PATHS.syncThrow))
  class SyncThrowGateway {
    handleConnection(): void {
      counts.syncConnect++;
      throw new Error('handleConnection exploded');
    }

    @Connected()
    @SubscribeMessage('ping')
    ping(@CurrentUser() user: string) {
      return { event: 'ping', data: { user, gateway: 'sync-throw' } };
    }
  }

  @WebSocketGateway(at(SAFETY_PATHS.reject))
  class RejectConnectGateway {
    async handleConnection(): Promise<void> {
      counts.rejectConnect++;
      await Promise.resolve();
      throw new Error('handleConnection rejected');
    }

    @Connected()
    @SubscribeMessage('ping')
    ping(@CurrentUser() user: string) {
      return { event: 'ping', data: { user, gateway: 'reject-connect' } };
    }
  }

  @WebSocketGateway(at(SAFETY_PATHS.disconnect))
  class ThrowDisconnectGateway {
    handleDisconnect(): void {
      counts.throwDisconnect++;
      throw new Error('handleDisconnect exploded');
    }

    @Connected()
    @SubscribeMessage('ping')
    ping(@CurrentUser() user: string) {
      return { event: 'ping', data: { user, gateway: 'throw-disconnect' } };
    }
  }

  @WebSocketGateway(at(SAFETY_PATHS.guards))
  class GuardsGateway {
    @Connected()
    @SubscribeMessage('ping')
    ping(@CurrentUser() user: string) {
      return { event: 'ping', data: { user, gateway: 'guards' } };
    }

    @UseGuards(new ThrowingGuard(counts))
    @SubscribeMessage('guard-throw')
    guardThrow() {
      return { event: 'guard-throw', data: { reached: true } };
    }

    @UseGuards(new RejectingGuard(counts))
    @SubscribeMessage('guard-reject')
    guardReject() {
      return { event: 'guard-reject', data: { reached: true } };
    }
  }

  return { gateways: [SyncThrowGateway, RejectConnectGateway, ThrowDisconnectGateway, GuardsGateway], counts };
}

/**
 * Session event hooks that fail for the users in `failing`: synchronously for the process and client events, by
 * rejecting for `request`. Hooks of `request` fail that message; the others run outside any request.
 */
@Injectable()
export class FailingHooks {
  readonly failing = new Set<string>();
  readonly failed: string[] = [];

  private fail(event: SessionEvent): void {
    if (event.userId === undefined || !this.failing.has(event.userId)) return;
    this.failed.push(event.type);
    throw new Error(`hook for ${event.type} exploded`);
  }

  @OnSessionEvent('start-process')
  startProcess(event: SessionEvent): void {
    this.fail(event);
  }

  @OnSessionEvent('start-connected-process')
  startConnected(event: SessionEvent): void {
    this.fail(event);
  }

  @OnSessionEvent('client-connected')
  clientConnected(event: SessionEvent): void {
    this.fail(event);
  }

  @OnSessionEvent('client-disconnected')
  clientDisconnected(event: SessionEvent): void {
    this.fail(event);
  }

  @OnSessionEvent('request')
  async request(event: SessionEvent): Promise<void> {
    await Promise.resolve();
    // HTTP requests of the same user (the login) pass: only socket messages fail.
    if (event.transport === 'ws') this.fail(event);
  }
}
