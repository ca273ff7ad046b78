// An ESM resolve hook (registered with `node --import`) that fails every import of an optional peer, so that a
// process importing the root entry proves the entry never loads one.
import { register } from 'node:module';

const PEERS = [
  'socket.io',
  'ws',
  'ioredis',
  'graphql',
  'graphql-ws',
  '@nestjs/websockets',
  '@nestjs/platform-socket.io',
  '@nestjs/platform-ws',
  '@nestjs/graphql',
  '@nestjs/apollo',
  '@apollo/server',
  '@nestjs/mercurius',
  'mercurius',
  '@nestjs/terminus',
];

const hooks = `
const PEERS = ${JSON.stringify(PEERS)};
export async function resolve(specifier, context, next) {
  if (PEERS.some((peer) => specifier === peer || specifier.startsWith(peer + '/'))) {
    throw new Error('optional peer imported: ' + specifier + ' (from ' + context.parentURL + ')');
  }
  return next(specifier, context);
}`;

register(`data:text/javascript,${encodeURIComponent(hooks)}`);
