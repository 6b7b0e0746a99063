import { randomUUID } from 'node:crypto';
import type { FastifyServerOptions } from 'fastify';

/** Server options shared by server.ts and the tests' `build()`, so both behave alike. */
export const fastifyOptions: FastifyServerOptions = {
  // A caller's X-Request-Id follows the message into the worker's logs; otherwise one is made.
  requestIdHeader: 'x-request-id',
  genReqId: () => randomUUID(),
  bodyLimit: 256 * 1024,
  // Start-up waits for MongoDB indexes and templates, slower on a loaded FerretDB.
  pluginTimeout: 60_000,
  routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
  // Answer a slow or stuck client within bounds.
  requestTimeout: 30_000,
  connectionTimeout: 60_000,
};
