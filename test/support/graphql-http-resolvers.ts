import { Args, Field, Int, Mutation, ObjectType, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { Connected, CurrentUser, SessionData, SessionKey, SessionService } from '../../lib/index.js';

/**
 * The schema of the GraphQL-over-HTTP spec (code first). Every guarded field is nullable, so that a refusal nulls
 * that field alone and the rest of the query keeps its data.
 *
 * Query (public): hello, whoami (@CurrentUser or null), currentUserId (the service), motd, cart (browser scope),
 *   optionalUser (@Connected optional), items { name, viewer (public), secret (@Connected), adminNote (allow admin) }
 * Query (guarded): me, note (@SessionData), noteViaService (get), admin (allow admin), staff (allow admin|staff, deny
 *   banned), notBanned (deny banned), sessionList (listSessions), a, b, c (three plain @Connected fields)
 * PrivateResolver (class @Connected): privateA, privateB, relaxed (method @Connected optional)
 * Doc (class @Connected allow editor on its resolver): docs { title, body (inherits), draft (method: editor, deny banned) }
 * Mutation: login(user) (connect), logout (disconnect), setNote, removeNote, addToCart (browser scope),
 *   setMotd (allow admin), revoke(handle), disconnectAll
 */

/** Session-scoped, persisted: dropped at login and logout. */
export const GQL_NOTE = new SessionKey<string>('gql-http-note', { persist: true });
/** Browser-scoped, persisted: survives login and logout. */
export const GQL_CART = new SessionKey<string[]>('gql-http-cart', { scope: 'browser', persist: true });

/** The groups of the spec's users, for `policy.groups`. */
export const GQL_GROUPS: Record<string, string[]> = {
  alice: ['admin'],
  bob: ['staff'],
  carol: [],
  mallory: ['admin', 'banned'],
  erin: ['editor'],
  eve: ['editor', 'banned'],
};

/** Data a mutation may change, shared by the resolvers of one app (one instance per app: a provider). */
export class GqlBoard {
  motd = 'welcome';
  /** Calls of each resolver that ran, by field name: a refused field must not have run. */
  readonly ran: Record<string, number> = {};

  hit(field: string): void {
    this.ran[field] = (this.ran[field] ?? 0) + 1;
  }
}

@ObjectType()
export class OptionalView {
  @Field(() => String, { nullable: true })
  user!: string | null;

  @Field(() => Boolean)
  present!: boolean;
}

@ObjectType()
export class SessionView {
  @Field(() => String)
  handle!: string;

  @Field(() => String, { nullable: true })
  userId!: string | null;

  @Field(() => Boolean)
  current!: boolean;
}

@ObjectType()
export class Item {
  @Field(() => String)
  name!: string;
}

@ObjectType()
export class Doc {
  @Field(() => String)
  title!: string;
}

const ITEMS: Item[] = [{ name: 'pen' }, { name: 'ink' }, { name: 'pad' }];

@Resolver()
export class MainResolver {
  constructor(
    private readonly sessions: SessionService,
    private readonly board: GqlBoard,
  ) {}

  @Query(() => String)
  hello(): string {
    return 'world';
  }

  @Query(() => String, { nullable: true })
  whoami(@CurrentUser() user: string | undefined): string | null {
    return user ?? null;
  }

  @Query(() => String, { nullable: true })
  currentUserId(): string | null {
    return this.sessions.currentUserId() ?? null;
  }

  @Query(() => String)
  motd(): string {
    return this.board.motd;
  }

  @Query(() => [String])
  async cart(): Promise<string[]> {
    return (await this.sessions.get(GQL_CART)) ?? [];
  }

  @Connected({ optional: true })
  @Query(() => OptionalView)
  optionalUser(@CurrentUser() user: string | undefined): OptionalView {
    return { user: user ?? null, present: user !== undefined };
  }

  @Query(() => [Item])
  items(): Item[] {
    return ITEMS;
  }

  @Connected()
  @Query(() => String, { nullable: true })
  me(@CurrentUser() user: string): string {
    this.board.hit('me');
    return user;
  }

  @Connected()
  @Query(() => String, { nullable: true })
  note(@SessionData(GQL_NOTE) note: string | undefined): string | null {
    return note ?? null;
  }

  @Connected()
  @Query(() => String, { nullable: true })
  async noteViaService(): Promise<string | null> {
    return (await this.sessions.get(GQL_NOTE)) ?? null;
  }

  @Connected({ allow: ['admin'] })
  @Query(() => String, { nullable: true })
  admin(@CurrentUser() user: string): string {
    this.board.hit('admin');
    return user;
  }

  @Connected({ allow: ['admin', 'staff'], deny: ['banned'] })
  @Query(() => String, { nullable: true })
  staff(@CurrentUser() user: string): string {
    this.board.hit('staff');
    return user;
  }

  @Connected({ deny: ['banned'] })
  @Query(() => String, { nullable: true })
  notBanned(@CurrentUser() user: string): string {
    return user;
  }

  @Connected()
  @Query(() => [SessionView], { nullable: true })
  async sessionList(@CurrentUser() user: string): Promise<SessionView[]> {
    const list = await this.sessions.listSessions(user);
    return list.map((info) => ({ handle: info.handle, userId: info.userId ?? null, current: info.current }));
  }

  @Connected()
  @Query(() => String, { nullable: true })
  a(@CurrentUser() user: string): string {
    return `a:${user}`;
  }

  @Connected()
  @Query(() => String, { nullable: true })
  b(@CurrentUser() user: string): string {
    return `b:${user}`;
  }

  @Connected()
  @Query(() => String, { nullable: true })
  c(@CurrentUser() user: string): string {
    return `c:${user}`;
  }

  @Mutation(() => Boolean)
  async login(@Args('user') user: string): Promise<boolean> {
    await this.sessions.connect(user);
    return true;
  }

  @Mutation(() => Boolean)
  async logout(): Promise<boolean> {
    await this.sessions.disconnect();
    return true;
  }

  @Connected()
  @Mutation(() => Boolean, { nullable: true })
  async setNote(@Args('note') note: string): Promise<boolean> {
    this.board.hit('setNote');
    await this.sessions.set(GQL_NOTE, note);
    return true;
  }

  @Connected()
  @Mutation(() => Boolean, { nullable: true })
  async removeNote(): Promise<boolean> {
    await this.sessions.remove(GQL_NOTE);
    return true;
  }

  @Mutation(() => [String])
  async addToCart(@Args('item') item: string): Promise<string[]> {
    const cart = [...((await this.sessions.get(GQL_CART)) ?? []), item];
    await this.sessions.set(GQL_CART, cart);
    return cart;
  }

  @Connected({ allow: ['admin'] })
  @Mutation(() => Boolean, { nullable: true })
  setMotd(@Args('text') text: string): boolean {
    this.board.hit('setMotd');
    this.board.motd = text;
    return true;
  }

  /** Revokes one of the caller's own sessions (ownership checked first, as the README asks). */
  @Connected()
  @Mutation(() => Boolean, { nullable: true })
  async revoke(@CurrentUser() user: string, @Args('handle') handle: string): Promise<boolean> {
    const own = await this.sessions.listSessions(user);
    if (!own.some((info) => info.handle === handle)) return false;
    await this.sessions.revoke(handle);
    return true;
  }

  @Connected()
  @Mutation(() => Int, { nullable: true })
  disconnectAll(): Promise<number> {
    return this.sessions.disconnectAll();
  }
}

/** Field resolvers of Item: one public, one for any user, one for admins. */
@Resolver(() => Item)
export class ItemResolver {
  constructor(private readonly board: GqlBoard) {}

  @ResolveField(() => String, { nullable: true })
  viewer(@CurrentUser() user: string | undefined): string | null {
    return user ?? null;
  }

  @Connected()
  @ResolveField(() => String, { nullable: true })
  secret(@Parent() item: Item, @CurrentUser() user: string): string {
    this.board.hit('secret');
    return `${item.name}:${user}`;
  }

  @Connected({ allow: ['admin'] })
  @ResolveField(() => String, { nullable: true })
  adminNote(@Parent() item: Item): string {
    this.board.hit('adminNote');
    return `${item.name}!`;
  }
}

/** Class-level @Connected(): every field needs a user, `relaxed` is made optional by its method's options. */
@Connected()
@Resolver()
export class PrivateResolver {
  @Query(() => String, { nullable: true })
  privateA(@CurrentUser() user: string): string {
    return `A:${user}`;
  }

  @Query(() => String, { nullable: true })
  privateB(@CurrentUser() user: string): string {
    return `B:${user}`;
  }

  @Connected({ optional: true })
  @Query(() => String)
  relaxed(@CurrentUser() user: string | undefined): string {
    return user ?? 'anonymous';
  }
}

/** Class-level groups on a type's resolver: the query and the field resolvers need an editor; `draft` also no ban. */
@Connected({ allow: ['editor'] })
@Resolver(() => Doc)
export class DocResolver {
  @Query(() => [Doc], { nullable: true })
  docs(): Doc[] {
    return [{ title: 'one' }, { title: 'two' }];
  }

  @ResolveField(() => String, { nullable: true })
  body(@Parent() doc: Doc, @CurrentUser() user: string): string {
    return `${doc.title} by ${user}`;
  }

  @Connected({ allow: ['editor'], deny: ['banned'] })
  @ResolveField(() => String, { nullable: true })
  draft(@Parent() doc: Doc): string {
    return `${doc.title} (draft)`;
  }
}

export const GQL_RESOLVERS = [MainResolver, ItemResolver, PrivateResolver, DocResolver];
