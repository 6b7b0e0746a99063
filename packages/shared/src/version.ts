import { readFileSync } from 'node:fs';

/** Herald's release, as in packages/shared/package.json: every process of one release shares it. */
export const heraldVersion: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

/**
 * The User-Agent of every provider request. Meta's OpenAPI spec constrains it to
 * `name/major.minor.patch` (got's default, `got (https://…)`, breaks that pattern).
 */
export const userAgent = `Herald/${heraldVersion}`;
