import type { INestApplication } from '@nestjs/common';
import { SessionIoAdapter } from 'nestjs-connected/socket.io';

/** What `main.ts` does to the application before it listens (the tests do the same). */
export function configureApp(app: INestApplication): void {
  app.useWebSocketAdapter(new SessionIoAdapter(app));
}
