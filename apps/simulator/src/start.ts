import type { FastifyInstance } from 'fastify';
import { buildSimulator } from './app.ts';
import type { SimulatorOptions } from './options.ts';

export interface StartSimulatorOptions extends SimulatorOptions {
  /** TCP port. Default 0 (any free port; read the chosen one from `url`). */
  port?: number;
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
}

export interface RunningSimulator {
  /** Base URL, e.g. `http://127.0.0.1:41234`; Meta's API is `${url}/v24.0/{phone_number_id}/messages`. */
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** Builds and listens, for other packages' tests: `const sim = await startSimulator({ webhookBaseUrl })`. */
export async function startSimulator(opts: StartSimulatorOptions = {}): Promise<RunningSimulator> {
  const { port = 0, host = '127.0.0.1', ...simulatorOptions } = opts;
  const app = await buildSimulator(simulatorOptions);
  await app.listen({ port, host });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('simulator is not listening on a TCP port');
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { url: `http://${urlHost}:${address.port}`, app, close: () => app.close() };
}
