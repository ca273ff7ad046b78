import 'reflect-metadata';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Field, GraphQLModule, ObjectType, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { Connected } from '../../lib/index.js';
import { startApp } from '../support/app.js';
import { CapturedLog } from '../support/captured-log.js';

@ObjectType()
class Account {
  @Field(() => String)
  name!: string;
}

@Resolver(() => Account)
class GuardedFieldResolver {
  @Query(() => Account)
  account(): Account {
    return { name: 'ann' };
  }

  @Connected()
  @ResolveField(() => String, { nullable: true })
  secret(): string {
    return 'the secret';
  }
}

@Connected()
@Resolver(() => Account)
class GuardedClassResolver {
  @Query(() => Account)
  account(): Account {
    return { name: 'ann' };
  }

  @ResolveField(() => String, { nullable: true })
  secret(): string {
    return 'the secret';
  }
}

function graphql(fieldResolverEnhancers?: Array<'guards'>) {
  return GraphQLModule.forRoot<ApolloDriverConfig>({
    driver: ApolloDriver,
    autoSchemaFile: true,
    ...(fieldResolverEnhancers === undefined ? {} : { fieldResolverEnhancers }),
  });
}

async function ask(url: string, query: string): Promise<{ data: unknown; errors?: Array<{ extensions: { code: string } }> }> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  return (await response.json()) as { data: unknown; errors?: Array<{ extensions: { code: string } }> };
}

describe('@Connected on GraphQL field resolvers', () => {
  it("refuses to start when Nest would not run the guard on a field resolver (no fieldResolverEnhancers: ['guards'])", async () => {
    await expect(startApp({ adapter: 'express', providers: [GuardedFieldResolver], imports: [graphql()] })).rejects.toThrow(
      "nestjs-connected: @Connected on the field resolver GuardedFieldResolver.secret would not run: add fieldResolverEnhancers: ['guards'] to the GraphQL module's options",
    );
  });

  it('guards the field resolver once the guards run on fields', async () => {
    const t = await startApp({ adapter: 'express', providers: [GuardedFieldResolver], imports: [graphql(['guards'])] });
    try {
      const body = await ask(t.url, '{ account { name secret } }');
      expect(body.data).toEqual({ account: { name: 'ann', secret: null } });
      expect(body.errors?.map((error) => error.extensions.code)).toEqual(['UNAUTHENTICATED']);
    } finally {
      await t.close();
    }
  });

  it('warns, naming the field, when a guarded resolver class has field resolvers that no guard runs on', async () => {
    const log = new CapturedLog();
    const t = await startApp({
      adapter: 'express',
      providers: [GuardedClassResolver],
      imports: [graphql()],
      configure: (app) => app.useLogger(log),
    });
    try {
      expect(log.matching('GuardedClassResolver.secret')).toEqual([
        "The field resolver GuardedClassResolver.secret runs without @Connected (Nest guards no field resolver unless fieldResolverEnhancers includes 'guards')",
      ]);
      // The query itself is guarded.
      const body = await ask(t.url, '{ account { name } }');
      expect(body.errors?.map((error) => error.extensions.code)).toEqual(['UNAUTHENTICATED']);
    } finally {
      await t.close();
    }
  });
});
