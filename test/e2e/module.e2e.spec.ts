import { Controller, Get, Injectable, Module, Post, type ModuleMetadata } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import {
  Connected,
  CurrentUser,
  MemoryStore,
  SessionModule,
  SessionService,
  type SessionPolicy,
  type SessionPolicyFactory,
} from '../../lib/index.js';
import { ADAPTERS, SECRET, startApp, type AdapterName } from '../support/app.js';
import { Browser } from '../support/browser.js';

@Controller()
class LoginController {
  constructor(private readonly sessions: SessionService) {}

  @Post('login')
  async login() {
    await this.sessions.connect('carol');
    return { ok: true };
  }

  @Connected({ allow: ['reader'] })
  @Get('me')
  me(@CurrentUser() user: string) {
    return { user };
  }
}

/** Stands in for an application's configuration module. */
@Injectable()
class SettingsService {
  readonly secret = SECRET;
  readonly groups = (): string[] => ['reader'];
}

@Module({ providers: [SettingsService], exports: [SettingsService] })
class SettingsModule {}

@Injectable()
class PolicyFactory implements SessionPolicyFactory {
  constructor(private readonly settings: SettingsService) {}

  createSessionPolicy(): SessionPolicy {
    return { secret: this.settings.secret, groups: this.settings.groups };
  }
}

/** The app on the SessionModule registration under test (given in `imports`), with this file's LoginController only. */
function listen(adapter: AdapterName, imports: ModuleMetadata['imports']) {
  return startApp({ adapter, standalone: true, imports, controllers: [LoginController] });
}

describe.each(ADAPTERS)('SessionModule registration on %s', (adapter) => {
  it('forRootAsync with useFactory and inject reads the policy from another module', async () => {
    const { app, url } = await listen(adapter, [
      SessionModule.forRootAsync({
        imports: [SettingsModule],
        inject: [SettingsService],
        useFactory: (settings: SettingsService) => ({ secret: settings.secret, groups: settings.groups }),
      }),
    ]);
    try {
      const b = new Browser(url);
      expect((await b.get('/me')).status).toBe(401);
      await b.post('/login');
      expect((await b.get('/me')).body).toEqual({ user: 'carol' });
    } finally {
      await app.close();
    }
  });

  it('forRootAsync with useClass builds the policy with a factory class', async () => {
    const { app, url } = await listen(adapter, [SessionModule.forRootAsync({ imports: [SettingsModule], useClass: PolicyFactory })]);
    try {
      const b = new Browser(url);
      await b.post('/login');
      expect((await b.get('/me')).body).toEqual({ user: 'carol' });
    } finally {
      await app.close();
    }
  });

  it('forRootAsync rejects a bad policy at start-up, naming the option', async () => {
    await expect(
      listen(adapter, [SessionModule.forRootAsync({ useFactory: () => ({ secret: SECRET, idleTimeout: -5 }) })]),
    ).rejects.toThrow(/'idleTimeout'/);
  });

  it('uses the store given in the policy', async () => {
    const store = new MemoryStore();
    const { app, url } = await listen(adapter, [SessionModule.forRoot({ secret: SECRET, store, groups: () => ['reader'] })]);
    try {
      expect(store.size).toBe(0);
      await new Browser(url).post('/login');
      expect(store.size).toBe(1);
    } finally {
      await app.close();
    }
  });
});

/** An HTTP platform the library has no request hook for: it gets the request context from a Nest middleware. */
class OtherPlatformAdapter extends ExpressAdapter {
  override getType(): string {
    return 'other-platform';
  }
}

describe('SessionModule on a platform other than Express and Fastify', () => {
  it('opens the request context with a Nest middleware: connect() and the guard work', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [SessionModule.forRoot({ secret: SECRET, groups: () => ['reader'] })],
      controllers: [LoginController],
    }).compile();
    const app = moduleRef.createNestApplication(new OtherPlatformAdapter(), { logger: false });
    await app.listen(0, '127.0.0.1');
    try {
      const b = new Browser(`http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`);
      expect((await b.get('/me')).status).toBe(401);
      // connect() throws without a request context: a 201 here means the middleware opened it.
      expect((await b.post('/login')).status).toBe(201);
      expect((await b.get('/me')).body).toEqual({ user: 'carol' });
    } finally {
      await app.close();
    }
  });
});
