// The apps that scripts/profile-guarded-read.mjs measures, and the IPC side of a server child process.
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const SECRET = 'profile-secret-0123456789-abcdefghijklmnopqrstu';

/** The bench's counter key, per built library. */
const counters = new Map();

/**
 * The Nest app of `variant` on `adapter`, initialised, not listening. The library's store is a MemoryStore, or a
 * RedisStore (its defaults: near cache, auto-pipelining) on `redisUrl` for `connected-redis`, and for `connected`
 * when `redisUrl` is given.
 */
export async function buildApp(adapter, variant, libDir, redisUrl) {
  await import('reflect-metadata');
  const common = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const { Controller, Get, Post, HttpCode, Module, Query, Injectable, UseGuards, Inject } = common;
  const decorate = (decorators, target, key) =>
    Reflect.decorate(decorators, target, key, key === undefined ? undefined : Object.getOwnPropertyDescriptor(target, key));

  let module;
  if (variant.startsWith('ceiling') || variant.startsWith('async-context')) {
    const extra = variant.startsWith('async-context') ? undefined : calibration(variant);
    class AlwaysGuard {
      canActivate() {
        return true;
      }
    }
    decorate([Injectable()], AlwaysGuard);
    class CeilingController {
      login() {
        return { ok: true };
      }
      me() {
        return { user: 'ceiling' };
      }
      read() {
        extra?.();
        return { counter: 0 };
      }
      plain() {
        return { user: 'ceiling' };
      }
    }
    decorate([Post('login'), HttpCode(200)], CeilingController.prototype, 'login');
    decorate([UseGuards(AlwaysGuard), Get('me')], CeilingController.prototype, 'me');
    decorate([UseGuards(AlwaysGuard), Get('read')], CeilingController.prototype, 'read');
    decorate([UseGuards(AlwaysGuard), Get('plain')], CeilingController.prototype, 'plain');
    decorate([Controller()], CeilingController);
    class CeilingModule {}
    decorate([Module({ controllers: [CeilingController], providers: [AlwaysGuard] })], CeilingModule);
    module = CeilingModule;
  } else {
    const lib = await import(pathToFileURL(resolve(libDir, 'index.js')).href);
    const { Connected, CurrentUser, SessionData, SessionKey, SessionModule, SessionService, MemoryStore } = lib;
    // Keys are global by name: two connected apps in one process (inject mode) share one.
    counters.set(libDir, counters.get(libDir) ?? new SessionKey('counter', { persist: true }));
    const COUNTER = counters.get(libDir);
    class ConnectedController {
      constructor(sessions) {
        this.sessions = sessions;
      }
      async login(user) {
        await this.sessions.connect(user ?? 'profile-user');
        await this.sessions.set(COUNTER, 0);
        return { ok: true };
      }
      me(user) {
        return { user };
      }
      read(counter) {
        return { counter };
      }
      async write(counter) {
        const next = (counter ?? 0) + 1;
        await this.sessions.set(COUNTER, next);
        return { counter: next };
      }
      plain() {
        return { user: 'connected' };
      }
    }
    Inject(SessionService)(ConnectedController, undefined, 0);
    Query('user')(ConnectedController.prototype, 'login', 0);
    CurrentUser()(ConnectedController.prototype, 'me', 0);
    SessionData(COUNTER)(ConnectedController.prototype, 'read', 0);
    SessionData(COUNTER)(ConnectedController.prototype, 'write', 0);
    decorate([Post('login'), HttpCode(200)], ConnectedController.prototype, 'login');
    decorate([Connected(), Get('me')], ConnectedController.prototype, 'me');
    decorate([Connected(), Get('read')], ConnectedController.prototype, 'read');
    decorate([Connected(), Post('write'), HttpCode(200)], ConnectedController.prototype, 'write');
    decorate([Connected(), Get('plain')], ConnectedController.prototype, 'plain');
    decorate([Controller()], ConnectedController);
    class ConnectedModule {}
    let store = new MemoryStore();
    if (variant === 'connected-redis' && redisUrl === undefined) throw new Error('connected-redis needs --store redis');
    if (redisUrl !== undefined && variant !== 'connected-memory') {
      const { RedisStore } = await import(pathToFileURL(resolve(libDir, 'stores/redis/redis.store.js')).href);
      store = new RedisStore({ url: redisUrl, prefix: `profile-${adapter}:` });
    }
    decorate(
      [
        Module({
          imports: [SessionModule.forRoot({ secret: SECRET, store, cookie: { name: 'sid', secure: false, sameSite: 'lax' } })],
          controllers: [ConnectedController],
        }),
      ],
      ConnectedModule,
    );
    module = ConnectedModule;
  }

  let app;
  if (adapter === 'express') {
    const { ExpressAdapter } = await import('@nestjs/platform-express');
    app = await NestFactory.create(module, new ExpressAdapter(), { logger: false });
  } else {
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    app = await NestFactory.create(module, new FastifyAdapter(), { logger: false });
  }
  if (variant === 'ceiling-without-etags' && adapter === 'express') app.getHttpAdapter().getInstance().set('etag', false);
  if (variant === 'async-context') {
    // The ceiling with one AsyncLocalStorage slot opened per request where the library opens its own: the floor of
    // any per-request context on this architecture.
    const { AsyncLocalStorage } = await import('node:async_hooks');
    const storage = new AsyncLocalStorage();
    const instance = app.getHttpAdapter().getInstance();
    if (adapter === 'express') instance.use((_request, _response, next) => storage.run({ context: undefined }, next));
    else instance.addHook('onRequest', (_request, _reply, done) => storage.run({ context: undefined }, done));
  }
  if (variant === 'async-context-listener') {
    // The same slot opened around the HTTP server's request listener, before Express or Fastify see the request.
    const { AsyncLocalStorage } = await import('node:async_hooks');
    const storage = new AsyncLocalStorage();
    const server = app.getHttpServer();
    const listeners = server.listeners('request');
    server.removeAllListeners('request');
    for (const listener of listeners)
      server.on('request', (request, response) => storage.run({ context: undefined }, listener, request, response));
  }
  await app.init();
  return app;
}

/** The last calibration objects, kept so that they cannot be optimised away (and die young, as a request's do). */
const kept = [];

/**
 * The extra work of a calibration variant, run in the ceiling's `/read` handler: `ceiling-spin:<µs>` busy-waits that
 * long, `ceiling-alloc:<n>` allocates n small objects (about 48 B each) and an array. What such a known cost adds
 * to the ceiling in the harness says how to read what the library adds: whether the load or the profiler inflates it.
 */
function calibration(variant) {
  const [kind, amountText] = variant.slice('ceiling'.length + 1).split(':');
  const amount = Number(amountText);
  if (kind === '' || kind === 'without-etags') return undefined;
  if (!(amount > 0)) throw new Error(`${variant}: say how much, as ceiling-spin:<µs> or ceiling-alloc:<objects>`);
  if (kind === 'spin') {
    return () => {
      const end = performance.now() + amount / 1000;
      while (performance.now() < end);
    };
  }
  if (kind === 'alloc') {
    return () => {
      const objects = [];
      for (let i = 0; i < amount; i++) objects.push({ a: i, b: i, c: i });
      kept[0] = objects;
    };
  }
  throw new Error(`unknown variant ${variant}`);
}

/**
 * Answers the driver's requests over IPC until told to exit: `cpu` (process.cpuUsage), `mem` (heapUsed +
 * arrayBuffers after four full collections), `snapshot`, `profile-start` / `profile-stop` (the inspector's CPU
 * profiler), `alloc-start` / `alloc-stop` (its sampling heap profiler, summed per function).
 */
export async function listenToParent(app) {
  const inspector = await import('node:inspector');
  const session = new inspector.Session();
  session.connect();
  const post = (method, params) =>
    new Promise((done, fail) => session.post(method, params, (error, result) => (error ? fail(error) : done(result))));

  process.on('message', async (message) => {
    switch (message.cmd) {
      case 'cpu':
        process.send({ cmd: 'cpu', usage: process.cpuUsage() });
        break;
      case 'mem': {
        for (let i = 0; i < 4; i++) globalThis.gc();
        const { heapUsed, arrayBuffers } = process.memoryUsage();
        process.send({ cmd: 'mem', bytes: heapUsed + arrayBuffers });
        break;
      }
      case 'snapshot': {
        for (let i = 0; i < 4; i++) globalThis.gc();
        const { writeHeapSnapshot } = await import('node:v8');
        writeHeapSnapshot(message.file);
        process.send({ cmd: 'snapshot' });
        break;
      }
      case 'profile-start':
        await post('Profiler.enable');
        await post('Profiler.setSamplingInterval', { interval: 100 });
        await post('Profiler.start');
        process.send({ cmd: 'profile-start' });
        break;
      case 'profile-stop': {
        const { profile } = await post('Profiler.stop');
        writeFileSync(message.file, JSON.stringify(profile));
        process.send({ cmd: 'profile-stop' });
        break;
      }
      case 'alloc-start':
        await post('HeapProfiler.enable');
        // Every allocation in the window counts, the young garbage included: a request's cost is what it allocates.
        await post('HeapProfiler.startSampling', {
          samplingInterval: 64,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: true,
        });
        process.send({ cmd: 'alloc-start' });
        break;
      case 'alloc-stop': {
        const { profile } = await post('HeapProfiler.stopSampling');
        process.send({ cmd: 'alloc-stop', bytes: [...allocatedByFunction(profile.head)] });
        break;
      }
      case 'exit':
        await app.close();
        process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ cmd: 'ready', port: app.getHttpServer().address().port });
}

/** Bytes allocated per function (its own allocations, not its callees') in a sampling heap profile. */
function allocatedByFunction(root) {
  const bytes = new Map();
  const pending = [root];
  while (pending.length > 0) {
    const node = pending.pop();
    if (node.selfSize > 0) {
      const { functionName, url, lineNumber } = node.callFrame;
      // The library's directory stays in the name: the driver replaces it (compare.mjs), knowing each server's.
      const where = url.replace(/^file:\/\//, '').replace(/.*node_modules\//, '');
      const name = `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`;
      bytes.set(name, (bytes.get(name) ?? 0) + node.selfSize);
    }
    pending.push(...node.children);
  }
  return bytes;
}
