// Wires Herald's real parts into the shared stack fixture (test-utils never imports the apps).
import { fastifyOptions, app as heraldApi, mintToken } from '@herald/api';
import { startSimulator } from '@herald/simulator';
import { defineStack } from '@herald/test-utils';
import { startWorker } from '@herald/worker';

export * from '@herald/test-utils';

/** A whole Herald on loopback (see defineStack): API, simulator and an in-process worker. */
export const startStack = defineStack({ api: heraldApi, fastifyOptions, mintToken, startWorker, startSimulator });
