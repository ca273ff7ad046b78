import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, ModuleRef } from '@nestjs/core';
import { CONNECTED } from '../decorators/connected.decorator.js';

/** `@nestjs/graphql`'s names, read as strings so that the root entry never loads it. */
const GRAPHQL_MODULE_OPTIONS = 'GqlModuleOptions';
const RESOLVER_PROPERTY_METADATA = 'graphql:resolve_property';

/**
 * Nest runs no guard on a GraphQL field resolver (`@ResolveField`) unless the GraphQL module's options say
 * `fieldResolverEnhancers: ['guards']`. A `@Connected` on such a method would then protect nothing, silently: the
 * application refuses to start instead. A `@Connected` on a resolver class with field resolvers gets a warning, since
 * its queries are guarded and its fields are usually reached through them.
 */
@Injectable()
export class FieldResolverGuards implements OnModuleInit {
  private readonly logger = new Logger('SessionModule');

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  onModuleInit(): void {
    const options = this.graphqlOptions();
    if (options === undefined || options.fieldResolverEnhancers?.includes('guards') === true) return;
    for (const wrapper of this.discovery.getProviders()) {
      const metatype: unknown = wrapper.metatype;
      if (typeof metatype !== 'function') continue;
      const prototype = (metatype as { prototype?: unknown }).prototype;
      if (prototype === null || typeof prototype !== 'object') continue;
      const onClass = Reflect.getMetadata(CONNECTED, metatype) !== undefined;
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        const method: unknown = (prototype as Record<string, unknown>)[name];
        if (typeof method !== 'function' || Reflect.getMetadata(RESOLVER_PROPERTY_METADATA, method) !== true) continue;
        const where = `${(metatype as { name: string }).name}.${name}`;
        if (Reflect.getMetadata(CONNECTED, method) !== undefined) {
          throw new Error(
            `nestjs-connected: @Connected on the field resolver ${where} would not run: add fieldResolverEnhancers: ['guards'] to the GraphQL module's options`,
          );
        }
        if (onClass) {
          this.logger.warn(
            `The field resolver ${where} runs without @Connected (Nest guards no field resolver unless fieldResolverEnhancers includes 'guards')`,
          );
        }
      }
    }
  }

  private graphqlOptions(): { fieldResolverEnhancers?: readonly string[] } | undefined {
    try {
      return this.moduleRef.get<{ fieldResolverEnhancers?: readonly string[] }>(GRAPHQL_MODULE_OPTIONS, { strict: false });
    } catch {
      return undefined;
    }
  }
}
