import { jest } from '@jest/globals';

/**
 * Loads `@nestjs/mercurius` under Jest (ESM mode on Node 20).
 *
 * mercurius `require()`s `@fastify/static` (for its GraphiQL page only), which `require()`s content-disposition 3,
 * an ES module: Node 20's `require(esm)` is not available inside Jest (before Node 24.9), so loading mercurius fails
 * with "Must use import to load ES Module". The spec disables GraphiQL (`graphiql: false`), so mercurius never
 * registers the static plugin: a stand-in that throws if it is ever registered replaces it, and mercurius itself is
 * loaded afterwards (hence the dynamic import).
 */
jest.mock('@fastify/static', () => {
  const unavailable = () => {
    throw new Error('@fastify/static is stubbed in the GraphQL specs: run mercurius with graphiql: false');
  };
  return Object.assign(unavailable, { default: unavailable });
});

const mercurius = await import('@nestjs/mercurius');

export const MercuriusDriver = mercurius.MercuriusDriver;
export type { MercuriusDriverConfig } from '@nestjs/mercurius';
