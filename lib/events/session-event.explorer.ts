import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { ON_SESSION_EVENT } from './on-session-event.decorator.js';
import { SESSION_EVENT_TYPES, type SessionEventType } from './session-event.js';
import { SessionEvents, type SessionEventHook } from './session-events.js';

/** Finds `@OnSessionEvent` methods on every provider and controller at start-up. */
@Injectable()
export class SessionEventExplorer implements OnModuleInit {
  private readonly logger = new Logger('SessionEvents');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly events: SessionEvents,
  ) {}

  onModuleInit(): void {
    const wrappers = [...this.discovery.getProviders(), ...this.discovery.getControllers()];
    for (const wrapper of wrappers) {
      const instance: unknown = wrapper.instance;
      if (!wrapper.isDependencyTreeStatic() || instance === null || typeof instance !== 'object') continue;
      const prototype = Object.getPrototypeOf(instance) as object | null;
      if (prototype === null) continue;
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        const method = (instance as Record<string, unknown>)[name];
        if (typeof method !== 'function') continue;
        const type = this.reflector.get<SessionEventType | undefined>(ON_SESSION_EVENT, method);
        if (type === undefined) continue;
        if (!SESSION_EVENT_TYPES.includes(type)) {
          throw new Error(`@OnSessionEvent('${String(type)}') on ${prototype.constructor.name}.${name}: unknown event type`);
        }
        this.events.addHook(type, method.bind(instance) as SessionEventHook);
        this.logger.log(`Hook ${prototype.constructor.name}.${name} on '${type}'`);
      }
    }
  }
}
