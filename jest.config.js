/** Jest in ESM mode (NestJS 12 is ESM-only): see STACK.md. */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    // The sample imports the package by name, as users do; tests run it against the sources.
    '^nestjs-connected$': '<rootDir>/lib/index.ts',
    '^nestjs-connected/socket\\.io$': '<rootDir>/lib/transports/socket-io/session-io.adapter.ts',
    '^nestjs-connected/ws$': '<rootDir>/lib/transports/ws/session-ws.adapter.ts',
    '^nestjs-connected/redis$': '<rootDir>/lib/stores/redis/redis.store.ts',
    '^nestjs-connected/graphql$': '<rootDir>/lib/transports/graphql/session-subscriptions.ts',
    '^nestjs-connected/testing$': '<rootDir>/lib/testing/login-as.ts',
    '^nestjs-connected/terminus$': '<rootDir>/lib/health/session-store.health.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
        },
        module: { type: 'es6' },
      },
    ],
  },
  testMatch: ['<rootDir>/test/**/*.spec.ts'],
  testTimeout: 20000,
};
