// A child process that serves one README recipe module, for recipes whose libraries Jest cannot load (CommonJS
// packages that require the ESM-only Nest 12). Arguments: the compiled module's URL, its export, the adapter. It prints
// `{"url":…}` once listening and closes the app when its stdin ends.
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { SessionModule } from 'nestjs-connected';

const [moduleUrl, exportName, adapterName] = process.argv.slice(2);
const recipe = (await import(moduleUrl))[exportName];
if (!recipe) throw new Error(`recipe-server: ${moduleUrl} has no export ${exportName}`);

class RecipeApp {}
Module({ imports: [SessionModule.forRoot({ secret: 'a-recipe-secret-that-is-long-enough-0123456' }), recipe] })(RecipeApp);

const adapter = adapterName === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
const app = await NestFactory.create(RecipeApp, adapter, { logger: false });
await app.listen(0, '127.0.0.1');
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${app.getHttpServer().address().port}` })}\n`);
process.stdin.resume();
process.stdin.on('end', () => void app.close().then(() => process.exit(0)));
