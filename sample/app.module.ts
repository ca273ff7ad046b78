import { Module } from '@nestjs/common';
import { MemoryStore, SessionModule } from 'nestjs-connected';
import { AuthController } from './auth.controller.js';
import { CartController } from './cart.controller.js';
import { ChatGateway } from './chat.gateway.js';
import { ProfileController } from './profile.controller.js';
import { SessionLogService } from './session-log.service.js';
import { groupsOf } from './users.js';

/** Only for the demo: a real deployment reads its secret from the environment or a vault. */
const DEMO_SECRET = 'demo-secret-do-not-use-in-production-0123456789';

@Module({
  imports: [
    SessionModule.forRoot({
      secret: process.env['SESSION_SECRET'] ?? DEMO_SECRET,
      groups: groupsOf,
      idleTimeout: 30 * 60,
      maxSessionsPerUser: 5,
      store: new MemoryStore(process.env['SNAPSHOT_FILE'] ? { snapshotFile: process.env['SNAPSHOT_FILE'] } : {}),
    }),
  ],
  controllers: [AuthController, ProfileController, CartController],
  providers: [SessionLogService, ChatGateway],
})
export class AppModule {}
