import { randomBytes } from 'node:crypto';
import { fastifyOptions, app as heraldApi } from '@herald/api';
import { loggerOptions } from '@herald/shared';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.ts';

// Senders' secrets never leave Herald: an API logging at trace level into a buffer takes creates,
// changes, refusals, reads and a re-encryption of senders with distinctive secrets; neither the
// secrets nor the stored ciphertext appear in any response or any log line.

let stack: Stack;
let api: FastifyInstance;
const logLines: string[] = [];
const responses: string[] = [];

beforeAll(async () => {
  stack = await startStack({ worker: false, env: { SENDER_KEYS: `k1:${randomBytes(32).toString('base64')}` } });
  const config = { ...stack.config, LOG_LEVEL: 'trace' as const };
  api = Fastify({
    ...fastifyOptions,
    loggerInstance: pino(loggerOptions('trace', 'herald-api'), {
      write: (line: string) => {
        logLines.push(line);
      },
    }) as FastifyBaseLogger,
  });
  await api.register(heraldApi, { config });
  await api.ready();
});
afterAll(async () => {
  await api?.close();
  await stack?.close();
});

const distinctive = (name: string) => `${name}Zq${randomBytes(12).toString('hex')}`;
const secrets = {
  metaToken: distinctive('metatoken'),
  metaToken2: distinctive('metatokentwo'),
  appSecret: distinctive('appsecret'),
  verifyToken: distinctive('verifytoken'),
  twilioToken: distinctive('twiliotoken'),
  myOperatorKey: distinctive('myopkey'),
  myOperatorHook: distinctive('myophook'),
  refusedSecret: distinctive('refused'),
  malformed: distinctive('malformed'),
};

async function call(method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object | string, tenant?: string) {
  const res = await api.inject({
    method,
    url: `/api/v1/admin${url}`,
    headers: {
      authorization: `Bearer ${stack.token('admin', tenant)}`,
      ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(payload !== undefined ? { payload } : {}),
  });
  responses.push(`${res.statusCode} ${JSON.stringify(res.headers)} ${res.body}`);
  return { status: res.statusCode, body: res.json() };
}

describe('secrets of senders', () => {
  it('appear in no response and no log line, nor does their ciphertext', async () => {
    const meta = await call(
      'POST',
      '/senders',
      {
        provider: 'meta',
        label: 'Meta',
        default: true,
        identifiers: { phone_number_id: '106540352242922', waba_id: '102290129340398' },
        credentials: { access_token: secrets.metaToken },
        webhook_secrets: { app_secret: secrets.appSecret, verify_token: secrets.verifyToken },
      },
      'acme',
    );
    expect(meta.status).toBe(201);
    expect(
      (
        await call(
          'POST',
          '/senders',
          {
            provider: 'twilio',
            label: 'Twilio',
            identifiers: { account_sid: `AC${'0123456789abcdef'.repeat(2)}`, from: '+14155238886' },
            credentials: { auth_token: secrets.twilioToken },
          },
          'acme',
        )
      ).status,
    ).toBe(201);
    expect(
      (
        await call(
          'POST',
          '/senders',
          {
            provider: 'myoperator',
            label: 'MyOperator',
            identifiers: { company_id: 'c-1', phone_number_id: 'p-1' },
            credentials: { api_key: secrets.myOperatorKey },
            webhook_secrets: { webhook_secret: secrets.myOperatorHook },
          },
          'acme',
        )
      ).status,
    ).toBe(201);
    expect((await call('PATCH', `/senders/${meta.body.id}`, { credentials: { access_token: secrets.metaToken2 } }, 'acme')).status).toBe(
      200,
    );
    // Refusals: a secret in a field of another provider, a secret with a bad sibling, a malformed body.
    expect((await call('PATCH', `/senders/${meta.body.id}`, { credentials: { auth_token: secrets.refusedSecret } }, 'acme')).status).toBe(
      400,
    );
    expect(
      (await call('POST', '/senders', { provider: 'meta', label: 'x', credentials: { access_token: secrets.refusedSecret } }, 'acme'))
        .status,
    ).toBe(400);
    expect((await call('POST', '/senders', `{"provider":"meta","credentials":{"access_token":"${secrets.malformed}"`, 'acme')).status).toBe(
      400,
    );
    // JSON.parse quotes the text around a syntax error: an unquoted secret must not come back in the 400.
    expect((await call('POST', '/senders', `{"credentials":{"access_token":${secrets.malformed}}}`, 'acme')).status).toBe(400);
    expect((await call('POST', '/senders', `${secrets.malformed}`, 'acme')).status).toBe(400);
    expect((await call('POST', `/senders/${meta.body.id}/disable`, undefined, 'acme')).status).toBe(409);
    expect((await call('GET', '/senders', undefined, 'acme')).status).toBe(200);
    expect((await call('GET', `/senders/${meta.body.id}`, undefined, 'acme')).status).toBe(200);
    expect((await call('POST', '/senders/reencrypt')).status).toBe(200);

    const stored = await stack.store.senders.list({ tenant: 'acme' });
    expect(stored).toHaveLength(3);
    const ciphertext = stored.flatMap((d) => [d.secrets.ct, d.secrets.tag]);
    // Whole secrets, pieces of them (an error message quoting a few characters), and the ciphertext.
    const needles = [...Object.values(secrets), ...Object.values(secrets).map((v) => v.slice(-20, -10)), ...ciphertext];
    const logs = logLines.join('');
    expect(logLines.length).toBeGreaterThan(20); // the requests were logged (trace level)
    expect(logs).toContain('sender created');
    for (const needle of needles) {
      expect(logs.includes(needle), `a log line carries ${needle.slice(0, 12)}…`).toBe(false);
      for (const r of responses) expect(r.includes(needle), `a response carries ${needle.slice(0, 12)}…`).toBe(false);
    }
    // Nor does any stored field: the store holds ciphertext only.
    expect(await stack.store.mentions(Object.values(secrets))).toEqual([]);
  });
});
