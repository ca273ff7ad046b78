import { Module } from '@nestjs/common';
import { MemoryStore, SessionModule } from 'nestjs-connected';
import { AccountController } from './api/account.controller.js';
import { AuthController } from './api/auth.controller.js';
import { CartController } from './api/cart.controller.js';
import { ImpersonationController } from './api/impersonation.controller.js';
import { LiveController } from './api/live.controller.js';
import { ProfileController } from './api/profile.controller.js';
import { ChatGateway } from './chat.gateway.js';
import { AccountPages } from './pages/account.pages.js';
import { AdminPages } from './pages/admin.pages.js';
import { AssetsController } from './pages/assets.controller.js';
import { Layout } from './pages/layout.js';
import { PageErrorFilter } from './pages/page.js';
import { PublicPages } from './pages/public.pages.js';
import { SessionLogService } from './session-log.service.js';
import { groupsOf, UsersService } from './users.js';

/** Only for the demo: a real deployment reads its secret from the environment or a vault. */
const DEMO_SECRET = 'demo-secret-do-not-use-in-production-0123456789';

@Module({
  imports: [
    // forRootAsync: the policy, and so the store, is made once per application instance (the tests start many).
    SessionModule.forRootAsync({
      useFactory: () => ({
        secret: process.env['SESSION_SECRET'] ?? DEMO_SECRET,
        groups: groupsOf,
        idleTimeout: 30 * 60,
        maxSessionsPerUser: 5,
        // Cross-origin unsafe requests are refused (the default), and every unsafe request that carries the session
        // cookie must carry csrfToken() in x-csrf-token: the pages put it there (public/app.js), curl gets it from /api/csrf.
        csrf: { token: true },
        // Admins may act as a user for 15 minutes at most; nobody may act as an admin.
        impersonation: { allow: ['admin'], deny: ['admin'], maxDuration: 15 * 60 },
        store: new MemoryStore(process.env['SNAPSHOT_FILE'] ? { snapshotFile: process.env['SNAPSHOT_FILE'] } : {}),
      }),
    }),
  ],
  controllers: [
    PublicPages,
    AccountPages,
    AdminPages,
    AssetsController,
    AuthController,
    AccountController,
    CartController,
    ImpersonationController,
    ProfileController,
    LiveController,
  ],
  providers: [UsersService, Layout, PageErrorFilter, SessionLogService, ChatGateway],
})
export class AppModule {}
