import { readFileSync } from 'node:fs';

/** The API's version, as in its package.json. */
export const version: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
