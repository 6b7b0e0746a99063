export { type AppOptions, default as app } from './app.ts';
export { mintToken } from './bin/token.ts';
export { fastifyOptions } from './options.ts';
