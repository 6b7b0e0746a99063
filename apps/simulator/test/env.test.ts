import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseSimulatorEnv, readEnv } from '../src/env.ts';

const required = { META_ACCESS_TOKEN: 'token', META_APP_SECRET: 'secret' };

describe('simulator environment', () => {
  it('fills in defaults', () => {
    const parsed = parseSimulatorEnv(required);
    expect(parsed).toEqual({
      ok: true,
      env: expect.objectContaining({ SIMULATOR_PORT: 4010, HOST: '127.0.0.1', SIMULATOR_WEBHOOK_URL: 'http://127.0.0.1:3000' }),
    });
  });

  it('parses the delays triple', () => {
    const parsed = parseSimulatorEnv({ ...required, SIMULATOR_WEBHOOK_DELAYS_MS: '5, 10,15' });
    expect(parsed.ok && parsed.env.SIMULATOR_WEBHOOK_DELAYS_MS).toEqual({ sent: 5, delivered: 10, read: 15 });
  });

  it.each([
    [{ META_APP_SECRET: 'secret' }, 'META_ACCESS_TOKEN'],
    [{ ...required, META_APP_SECRET: '' }, 'META_APP_SECRET'],
    [{ ...required, SIMULATOR_PORT: 'abc' }, 'SIMULATOR_PORT'],
    [{ ...required, SIMULATOR_PORT: '70000' }, 'SIMULATOR_PORT'],
    [{ ...required, SIMULATOR_WEBHOOK_URL: 'not a url' }, 'SIMULATOR_WEBHOOK_URL'],
    [{ ...required, SIMULATOR_WEBHOOK_DELAYS_MS: '10,20' }, 'SIMULATOR_WEBHOOK_DELAYS_MS'],
  ])('rejects %o with one line naming %s', (env, name) => {
    const parsed = parseSimulatorEnv(env);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.error).toContain(name);
      expect(parsed.error).not.toContain('\n');
    }
  });

  it('reads a .env file under the process environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-env-'));
    const file = join(dir, '.env');
    writeFileSync(file, 'SIM_TEST_FROM_FILE_ONLY=file\nSIM_TEST_BOTH=file\n');
    process.env.SIM_TEST_BOTH = 'process';
    try {
      const env = readEnv(pathToFileURL(file));
      expect(env.SIM_TEST_FROM_FILE_ONLY).toBe('file');
      expect(env.SIM_TEST_BOTH).toBe('process');
      expect(readEnv(pathToFileURL(join(dir, 'missing.env'))).SIM_TEST_FROM_FILE_ONLY).toBeUndefined();
    } finally {
      delete process.env.SIM_TEST_BOTH;
    }
  });
});
