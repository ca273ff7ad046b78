import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { SessionService, type SessionEvent } from 'nestjs-connected';
import type { Subscription } from 'rxjs';

/** Logs every session event: what an audit log or metrics exporter would subscribe to. */
@Injectable()
export class SessionLogService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('SessionEvents');
  private subscription: Subscription | undefined;

  constructor(private readonly sessions: SessionService) {}

  onModuleInit(): void {
    this.subscription = this.sessions.sessionEvents$.subscribe((event: SessionEvent) => {
      const who = event.userId === undefined ? 'anonymous' : `user=${event.userId}`;
      const why = 'reason' in event ? ` reason=${event.reason}` : '';
      this.logger.log(`${event.type} ${who}${why}`);
    });
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
  }
}
