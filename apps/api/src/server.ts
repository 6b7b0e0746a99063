import { loadConfigOrExit, loggerOptions } from '@herald/shared';
import closeWithGrace from 'close-with-grace';
import Fastify from 'fastify';
import app from './app.ts';
import { fastifyOptions } from './options.ts';

const config = loadConfigOrExit('api');
const server = Fastify({ ...fastifyOptions, logger: loggerOptions(config.LOG_LEVEL, 'herald-api') });
await server.register(app, { config });

closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
  if (err) server.log.error({ err }, 'closing after an error');
  else server.log.info({ signal }, 'closing');
  await server.close();
});

await server.listen({ host: config.HOST, port: config.PORT });
