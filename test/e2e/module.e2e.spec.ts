import { Controller, Get, Injectable, Module, Post, type ModuleMetadata } from '@nestjs/common';
import { Connected, CurrentUser, MemoryStore, SessionModule, SessionService, type SessionPolicy, type SessionPolicyFactory } from '../../lib/index.js';
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
