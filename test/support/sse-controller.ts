import {
  Body,
  Controller,
  Get,
  Injectable,
  Post,
  Query,
  Sse,
  UseInterceptors,
  type CallHandler,
  type ExecutionContext,
  type MessageEvent,
  type NestInterceptor,
} from '@nestjs/common';
import { finalize, interval, map, Observable, tap } from 'rxjs';
import { Connected, OnSessionEvent, SessionKey, SessionService, type SessionEventOf } from '../../lib/index.js';

/** One call of {@link SSE_DROP}'s `onNoClient` or `onDelete`, in the order they happened. */
export interface SseHookCall {
  hook: 'onNoClient' | 'onDelete';
  value: string;
}

/** Every call of {@link SSE_DROP}'s callbacks (tests use unique values and filter with {@link sseCallsFor}). */
export const sseHookCalls: SseHookCall[] = [];

/** The calls that concerned one value. */
export function sseCallsFor(value: string): SseHookCall[] {
  return sseHookCalls.filter((call) => call.value === value);
}

/**
 * A session-scoped value kept in the server's memory (no `persist`) whose `onNoClient` drops it (returns false) when
 * the session's last client leaves; both callbacks are recorded.
 */
export const SSE_DROP = new SessionKey<string>('sse.drop', {
  onNoClient: (value) => {
    sseHookCalls.push({ hook: 'onNoClient', value });
    return false;
  },
  onDelete: (value) => {
    sseHookCalls.push({ hook: 'onDelete', value });
  },
});

/** One tick of a `/sse/ticks` stream: what `currentUserId()` said inside the stream's operator, and when. */
export interface SseTick {
  tag: string;
  user: string | null;
  /** `performance.now()` on the server (the same clock as the test's: one process). */
  at: number;
}

/** What the SSE routes did, per application. Streams are told apart by the `tag` query parameter. */
@Injectable()
export class SseJournal {
  /** Every run of a stream handler: the route and the tag. */
  readonly runs: Array<{ route: string; tag: string }> = [];
  /** The tags of streams whose producer was torn down (unsubscribed or completed). */
  readonly torn: string[] = [];
  /** Every tick of the `/sse/ticks` streams. */
  readonly ticks: SseTick[] = [];
  /** What an application's own interceptor on `/sse/wrapped` saw pass: event types, then 'complete', by tag. */
  readonly wrapped = new Map<string, string[]>();

  runsOf(tag: string): string[] {
    return this.runs.filter((run) => run.tag === tag).map((run) => run.route);
  }

  tornDown(tag: string): number {
    return this.torn.filter((torn) => torn === tag).length;
  }
}

/** An application's own interceptor on a stream: records the type of every event it sees pass, and the completion. */
@Injectable()
export class SeenByInterceptor implements NestInterceptor {
  constructor(private readonly journal: SseJournal) {}

  intercept(execution: ExecutionContext, next: CallHandler): Observable<unknown> {
    const tag = execution.switchToHttp().getRequest<{ query?: { tag?: string } }>().query?.tag ?? '';
    const seen: string[] = [];
    this.journal.wrapped.set(tag, seen);
    return next.handle().pipe(
      tap({
        next: (event) => seen.push(String((event as MessageEvent).type ?? 'message')),
        complete: () => seen.push('complete'),
      }),
    );
  }
}

/** The client events as `@OnSessionEvent` hooks see them. */
@Injectable()
export class SseHooks {
  readonly seen: Array<SessionEventOf<'client-connected'> | SessionEventOf<'client-disconnected'>> = [];

  @OnSessionEvent('client-connected')
  connected(event: SessionEventOf<'client-connected'>): void {
    this.seen.push(event);
  }

  @OnSessionEvent('client-disconnected')
  disconnected(event: SessionEventOf<'client-disconnected'>): void {
    this.seen.push(event);
  }
}

/**
 * The SSE routes of the SSE specs (Nest's own `@Sse()`), each stream tagged by `?tag=` in the {@link SseJournal}:
 * - `GET /sse/live` (@Connected): a `hello` event `{ user }` (currentUserId() at subscription), then nothing, never
 *   completing
 * - `GET /sse/ticks` (@Connected): every 50 ms a `tick` event `{ i, user }`, `user` being `currentUserId()` inside
 *   the stream's operator (recorded in `journal.ticks`)
 * - `GET /sse/admin` (@Connected({ allow: ['admin'], deny: ['banned'] })), `GET /sse/maybe` (optional: true),
 *   `GET /sse/open` (no guard): the same as `/sse/live`
 * - `GET /sse/wrapped` (@Connected, with the application's own {@link SeenByInterceptor}): the same as `/sse/live`
 * - `POST /sse/drop {value}` / `GET /sse/drop` (@Connected): set / read {@link SSE_DROP} → `{ ok }` / `{ value }`
 */
@Controller('sse')
export class SseController {
  constructor(
    private readonly sessions: SessionService,
    private readonly journal: SseJournal,
  ) {}

  /** A hello, then an open stream that records its teardown. */
  private live(route: string, tag: string | undefined): Observable<MessageEvent> {
    const name = tag ?? '';
    this.journal.runs.push({ route, tag: name });
    const user = this.sessions.currentUserId() ?? null;
    return new Observable<MessageEvent>((subscriber) => {
      subscriber.next({ type: 'hello', data: { user } });
      return () => this.journal.torn.push(name);
    });
  }

  @Connected()
  @Sse('live')
  connected(@Query('tag') tag?: string): Observable<MessageEvent> {
    return this.live('live', tag);
  }

  @Connected()
  @Sse('ticks')
  ticks(@Query('tag') tag?: string): Observable<MessageEvent> {
    const name = tag ?? '';
    this.journal.runs.push({ route: 'ticks', tag: name });
    return interval(50).pipe(
      map((i): MessageEvent => {
        const user = this.sessions.currentUserId() ?? null;
        this.journal.ticks.push({ tag: name, user, at: performance.now() });
        return { type: 'tick', data: { i, user } };
      }),
      finalize(() => this.journal.torn.push(name)),
    );
  }

  @Connected()
  @UseInterceptors(SeenByInterceptor)
  @Sse('wrapped')
  wrapped(@Query('tag') tag?: string): Observable<MessageEvent> {
    return this.live('wrapped', tag);
  }

  @Connected({ allow: ['admin'], deny: ['banned'] })
  @Sse('admin')
  admin(@Query('tag') tag?: string): Observable<MessageEvent> {
    return this.live('admin', tag);
  }

  @Connected({ optional: true })
  @Sse('maybe')
  maybe(@Query('tag') tag?: string): Observable<MessageEvent> {
    return this.live('maybe', tag);
  }

  @Sse('open')
  open(@Query('tag') tag?: string): Observable<MessageEvent> {
    return this.live('open', tag);
  }

  @Connected()
  @Post('drop')
  async setDrop(@Body() body: { value: string }) {
    await this.sessions.set(SSE_DROP, body.value);
    return { ok: true };
  }

  @Connected()
  @Get('drop')
  async getDrop() {
    return { value: (await this.sessions.get(SSE_DROP)) ?? null };
  }
}
