// ESLint (flat config): typescript-eslint with type information, the layer rule, the optional-peer rule and Prettier's truce.
// `npm run lint` runs it over the whole tree; `npm test` runs it after the typecheck.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const root = import.meta.dirname;

/**
 * The layers of lib/, bottom first. Imports run one way, bottom to top: a file may import from its own layer or a
 * layer below, never from one above (see docs/ARCHITECTURE.md). Written once, here, as data; the
 * `import-x/no-restricted-paths` zones below are generated from it, so moving a layer is a one-line change.
 * `lib/*.ts` in the top layer means every file at the root of lib/ that no lower layer names (the module, the
 * service, the root entry and any future sub-path entry).
 */
const LAYERS = [
  { name: 'util', files: ['lib/util/**'] },
  { name: 'exceptions', files: ['lib/exceptions/**'] },
  { name: 'stores', files: ['lib/stores/**'] },
  { name: 'context', files: ['lib/context/**'] },
  {
    name: 'policy and tokens',
    files: ['lib/session-policy.ts', 'lib/csrf-policy.ts', 'lib/impersonation-policy.ts', 'lib/session.tokens.ts'],
  },
  { name: 'events', files: ['lib/events/**'] },
  { name: 'session engine', files: ['lib/session/**'] },
  { name: 'transports, guards, decorators', files: ['lib/transports/**', 'lib/guards/**', 'lib/decorators/**'] },
  { name: 'module and entries', files: ['lib/*.ts', 'lib/testing/**', 'lib/health/**'] },
];

/** Within a layer, more narrowly: the guard reads the request context only, never a transport. */
const EXTRA_ZONES = [
  {
    target: ['lib/guards/**'],
    from: ['lib/transports/**'],
    message: 'Layer rule: lib/guards/ imports nothing from lib/transports/ (the guard reads the context only). See docs/ARCHITECTURE.md.',
  },
];

/**
 * Optional peers: the root entry (lib/index.ts) must load without them, even transitively. A lint rule sees direct
 * imports only, so every lib file is kept off them except the files that are loaded only through a sub-path entry
 * (`nestjs-connected/socket.io`, `/ws`, `/redis`, ...). lib/transports/socket/ as a whole is reached from the root
 * module (SocketSessions, which graphql-ws shares), so only its gateway bridge, which the socket adapters alone
 * import, is exempt.
 */
const OPTIONAL_PEERS = [
  'socket.io',
  'ws',
  'ioredis',
  'graphql',
  '@nestjs/websockets',
  '@nestjs/platform-socket.io',
  '@nestjs/platform-ws',
  '@nestjs/graphql',
  'graphql-ws',
  '@nestjs/apollo',
  '@apollo/server',
  '@nestjs/mercurius',
  'mercurius',
  '@nestjs/terminus',
];
const OPTIONAL_PEER_FILES = [
  'lib/transports/socket-io/**',
  'lib/transports/ws/**',
  'lib/transports/socket/gateway-bridge.ts',
  'lib/transports/graphql/**',
  'lib/stores/redis/**',
  'lib/health/**',
];

const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `lib/*.ts` less the root files a lower layer claims, as a minimatch extglob. */
function expand(pattern, layers) {
  if (pattern !== 'lib/*.ts') return pattern;
  const claimed = layers
    .flatMap((layer) => layer.files)
    .filter((file) => /^lib\/[^/*]+\.ts$/.test(file))
    .map((file) => file.slice('lib/'.length, -'.ts'.length));
  return claimed.length === 0 ? pattern : `lib/!(${claimed.join('|')}).ts`;
}

function layerZones(layers) {
  const below = (index) => layers.slice(0, index);
  const patternsOf = (index) => layers[index].files.map((file) => expand(file, below(index)));
  const order = layers.map((layer) => layer.name).join(' < ');
  const zones = [];
  layers.forEach((layer, index) => {
    const from = layers.slice(index + 1).flatMap((_, offset) => patternsOf(index + 1 + offset));
    if (from.length === 0) return;
    const message =
      `Layer rule: imports run one way, bottom to top (${order}); ` +
      `the ${layer.name} layer may not import from a layer above it. See docs/ARCHITECTURE.md.`;
    // The rule takes either only globs or only plain paths in one zone's `from`.
    const globs = from.filter((pattern) => /[*?!(){}[\]]/.test(pattern));
    const plain = from.filter((pattern) => !globs.includes(pattern));
    for (const group of [globs, plain]) {
      if (group.length > 0) zones.push({ target: patternsOf(index), from: group, message });
    }
  });
  return zones;
}

const typed = {
  languageOptions: {
    parserOptions: {
      // One program for lib, test, bench and sample (tsconfig.json includes them all, with the package's paths).
      project: ['./tsconfig.json'],
      tsconfigRootDir: root,
    },
  },
};

export default defineConfig(
  {
    ignores: ['dist/', '.build/', 'bench/.build/', 'bench/.work/', 'node_modules/', 'coverage/'],
  },
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },

  // Plain JavaScript (configs and scripts): no type information.
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [js.configs.recommended],
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: {
        console: 'readonly',
        process: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        fetch: 'readonly',
      },
    },
  },

  // All TypeScript: type-aware recommended rules.
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    ...typed,
    plugins: { 'import-x': importX },
    settings: {
      // import-x must parse the imported .ts files (for no-cycle) and map `./x.js` specifiers to `./x.ts`.
      'import-x/extensions': ['.ts', '.js', '.mjs', '.cjs'],
      'import-x/external-module-folders': ['node_modules', 'node_modules/@types'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: `${root}/tsconfig.json` })],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      // Passing on a caught `unknown` (`Promise.reject(error)` in a catch) is fine; rejecting with a literal is not.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // tsc reports these already (noUnusedLocals / noUnusedParameters); `_`-prefixed names are deliberate.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },

  // The library: strict.
  {
    files: ['lib/**/*.ts'],
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-restricted-paths': ['error', { basePath: root, zones: [...layerZones(LAYERS), ...EXTRA_ZONES] }],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^(${OPTIONAL_PEERS.map(escapeRegExp).join('|')})(/.*)?$`,
              message:
                'An optional peer: the root entry (lib/index.ts) must load without it, even transitively. ' +
                'Import it only under a sub-path entry (lib/transports/socket-io/, ws/, lib/stores/redis/, ...).',
            },
          ],
        },
      ],
    },
  },
  {
    files: OPTIONAL_PEER_FILES,
    rules: { 'no-restricted-imports': 'off' },
  },

  // Tests and the benchmark: type-aware too (a floating promise in a test hides a failure), but they poke at untyped
  // things: response bodies (supertest types them `any`), `server.address()`, parsed socket frames, Jest mocks.
  // The sample is code users copy: it keeps the full rules above.
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // `expect(store.method)` and destructured helpers are not calls with a lost `this`.
      '@typescript-eslint/unbound-method': 'off',
      // `items[0]!` states what the test expects, and stays right if `noUncheckedIndexedAccess` is turned on.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // Test gateways and fake stores are `async` on purpose: they exercise the promise-returning paths.
      '@typescript-eslint/require-await': 'off',
    },
  },

  // Last: leave formatting to Prettier.
  prettier,
);
