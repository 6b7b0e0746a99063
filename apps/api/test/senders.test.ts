import { randomBytes } from 'node:crypto';
import { ProviderError, providerFor, resolveSender, SecretBox } from '@herald/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, testSecrets, uniquePhone } from './stack.ts';

// Senders (issue 13, item 1) through the API: create, read, change, disable, one default per
// tenant, tenant scoping, the deployment's sender from the environment, and a stored sender
// resolved to a working provider. Secrets never come back (senders-secrets.test.ts checks logs;
// senders-rotation.test.ts the key rotation).

const senderKeys = `k1:${randomBytes(32).toString('base64')}`;
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false, env: { SENDER_KEYS: senderKeys } });
});
afterAll(() => stack?.close());

type Role = 'admin' | 'service' | 'viewer';
async function call(method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object, who: { role?: Role; tenant?: string } = {}) {
  const res = await stack.api.inject({
    method,
    url: `/api/v1/admin${url}`,
    headers: { authorization: `Bearer ${stack.token(who.role ?? 'admin', who.tenant)}` },
    ...(payload ? { payload } : {}),
  });
  return { status: res.statusCode, body: res.json(), raw: res.body };
}

const secret = (name: string) => `${name}-${randomBytes(10).toString('hex')}`;
function metaSender(fields: Record<string, unknown> = {}) {
  return {
    provider: 'meta',
    label: 'Bakery main number',
    identifiers: { phone_number_id: '106540352242922', waba_id: '102290129340398' },
    credentials: { access_token: secret('EAAGtoken') },
    webhook_secrets: { app_secret: secret('appsecret'), verify_token: secret('verify') },
    ...fields,
  };
}

describe('creating senders', () => {
  it('creates a Meta sender for the admin\u2019s tenant; the answer shows each secret as set with its last four, never its value', async () => {
    const body = metaSender();
    const res = await call('POST', '/senders', body, { tenant: 'bakery' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      id: expect.stringMatching(/^snd_/),
      tenant: 'bakery',
      provider: 'meta',
      mps: 80,
      default: false,
      disabled: false,
      source: 'store',
      identifiers: body.identifiers,
      credentials: { access_token: { set: true, last4: body.credentials.access_token.slice(-4) } },
      webhook_secrets: {
        app_secret: { set: true, last4: body.webhook_secrets.app_secret.slice(-4) },
        verify_token: { set: true, last4: body.webhook_secrets.verify_token.slice(-4) },
      },
      encryption: { key_id: 'k1', readable: true },
      updated_by: 'test-admin',
    });
    for (const value of [body.credentials.access_token, body.webhook_secrets.app_secret, body.webhook_secrets.verify_token]) {
      expect(res.raw).not.toContain(value);
    }
    const one = await call('GET', `/senders/${res.body.id}`, undefined, { role: 'viewer', tenant: 'bakery' });
    expect(one.status).toBe(200);
    expect(one.body).toEqual(res.body);
  });

  it.each([
    ['a Meta sender without phone_number_id', metaSender({ identifiers: { waba_id: '102290129340398' } }), 'identifiers.phone_number_id'],
    ['a Meta sender without its access token', metaSender({ credentials: {} }), 'credentials.access_token'],
    [
      'a Twilio account SID that is not one',
      {
        provider: 'twilio',
        label: 'T',
        identifiers: { account_sid: 'XY1', from: '+14155238886' },
        credentials: { auth_token: 'abcdefgh12' },
      },
      'identifiers.account_sid',
    ],
    [
      'a MyOperator sender without a webhook secret',
      {
        provider: 'myoperator',
        label: 'M',
        identifiers: { company_id: 'c1', phone_number_id: 'p1' },
        credentials: { api_key: 'abcdefgh12' },
      },
      'webhook_secrets',
    ],
    ['an unknown provider', metaSender({ provider: 'sms' }), 'provider'],
    ['mps above 1000', metaSender({ mps: 1001 }), 'mps'],
    ['a secret shorter than 8 characters', metaSender({ credentials: { access_token: 'short' } }), 'credentials.access_token'],
    [
      'a Twilio field on a Meta sender',
      metaSender({ identifiers: { phone_number_id: '1065403522', waba_id: '1022901293', from: '+14155238886' } }),
      'identifiers.from',
    ],
  ])('refuses %s with a 400 naming the field, and stores nothing', async (_what, body, path) => {
    const before = (await stack.store.senders.list()).length;
    const res = await call('POST', '/senders', body, { tenant: 'bakery' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('bad_request');
    expect(res.body.issues.map((i: { path: string }) => i.path).join(' ')).toContain(path);
    expect((await stack.store.senders.list()).length).toBe(before);
  });

  it('an admin names only its own tenant; a platform admin must name one; services and viewers cannot create', async () => {
    expect((await call('POST', '/senders', metaSender({ tenant: 'florist' }), { tenant: 'bakery' })).status).toBe(403);
    const noTenant = await call('POST', '/senders', metaSender());
    expect(noTenant.status).toBe(400);
    expect(noTenant.body.issues[0].path).toBe('tenant');
    expect((await call('POST', '/senders', metaSender({ tenant: 'florist' }))).status).toBe(201);
    expect((await call('POST', '/senders', metaSender(), { role: 'service', tenant: 'bakery' })).status).toBe(403);
    expect((await call('POST', '/senders', metaSender(), { role: 'viewer', tenant: 'bakery' })).status).toBe(403);
  });
});

describe('tenant scoping', () => {
  it("a tenant sees the deployment sender and its own, never another tenant's (404 by id); a platform admin sees all and filters", async () => {
    const mine = await call('POST', '/senders', metaSender({ label: 'Grocer' }), { tenant: 'grocer' });
    const theirs = await call('POST', '/senders', metaSender({ label: 'Tailor' }), { tenant: 'tailor' });
    const grocerList = await call('GET', '/senders', undefined, { role: 'viewer', tenant: 'grocer' });
    expect(grocerList.body.items.map((s: { id: string }) => s.id)).toEqual(['env', mine.body.id]);
    expect((await call('GET', `/senders/${theirs.body.id}`, undefined, { role: 'viewer', tenant: 'grocer' })).status).toBe(404);
    expect((await call('PATCH', `/senders/${theirs.body.id}`, { label: 'Mine now' }, { tenant: 'grocer' })).status).toBe(404);
    expect((await call('POST', `/senders/${theirs.body.id}/disable`, undefined, { tenant: 'grocer' })).status).toBe(404);
    // ?tenant= does not widen a tenant's view.
    const widened = await call('GET', '/senders?tenant=tailor', undefined, { role: 'viewer', tenant: 'grocer' });
    expect(widened.body.items.map((s: { id: string }) => s.id)).toEqual(['env', mine.body.id]);

    const all = await call('GET', '/senders');
    expect(all.body.items.map((s: { id: string }) => s.id)).toEqual(expect.arrayContaining([mine.body.id, theirs.body.id]));
    const tailor = await call('GET', '/senders?tenant=tailor');
    expect(tailor.body.items.map((s: { id: string }) => s.id)).toEqual(['env', theirs.body.id]);
    expect((await call('GET', '/senders/snd_nonsense', undefined, { role: 'viewer' })).status).toBe(404);
  });
});

describe('the deployment sender', () => {
  it('is the environment\u2019s provider settings, listed first, read-only; only a platform admin sees its identifiers and last four', async () => {
    const platform = await call('GET', '/senders/env');
    expect(platform.body).toMatchObject({
      id: 'env',
      tenant: null,
      provider: 'meta',
      source: 'environment',
      default: true,
      mps: stack.config.PROVIDER_MPS,
      encryption: null,
      identifiers: { phone_number_id: testSecrets.META_PHONE_NUMBER_ID },
      credentials: { access_token: { set: true, last4: testSecrets.META_ACCESS_TOKEN.slice(-4) } },
    });
    const tenant = await call('GET', '/senders/env', undefined, { role: 'viewer', tenant: 'bakery' });
    expect(tenant.body.identifiers).toEqual({});
    expect(tenant.body.credentials).toEqual({ access_token: { set: true } });
    expect(tenant.raw).not.toContain(testSecrets.META_PHONE_NUMBER_ID);
    const patched = await call('PATCH', '/senders/env', { label: 'x' });
    expect(patched.status).toBe(409);
    expect(patched.body.message).toMatch(/environment/);
  });
});

describe('changing senders', () => {
  it('a secret omitted keeps its value, a secret given replaces it, null removes the optional verify token', async () => {
    const body = metaSender();
    const created = (await call('POST', '/senders', body, { tenant: 'baker2' })).body;
    const newToken = secret('EAAGrotated');
    const res = await call(
      'PATCH',
      `/senders/${created.id}`,
      { label: 'Renamed', mps: 250, credentials: { access_token: newToken } },
      { tenant: 'baker2' },
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      label: 'Renamed',
      mps: 250,
      credentials: { access_token: { set: true, last4: newToken.slice(-4) } },
      webhook_secrets: { app_secret: { set: true, last4: body.webhook_secrets.app_secret.slice(-4) } },
    });
    expect(res.raw).not.toContain(newToken);
    const removed = await call('PATCH', `/senders/${created.id}`, { webhook_secrets: { verify_token: null } }, { tenant: 'baker2' });
    expect(removed.body.webhook_secrets).toEqual({
      app_secret: { set: true, last4: body.webhook_secrets.app_secret.slice(-4) },
      verify_token: { set: false },
    });

    const opened = await resolveSender(created.id, {
      senders: stack.store.senders,
      box: SecretBox.fromKeys(senderKeys),
      config: stack.config,
    });
    expect(opened).toMatchObject({
      provider: 'meta',
      access_token: newToken,
      app_secret: body.webhook_secrets.app_secret,
      verify_token: undefined,
    });
  });

  it('refuses fields of another provider and bad identifiers, naming them; nothing changes', async () => {
    const created = (await call('POST', '/senders', metaSender(), { tenant: 'baker3' })).body;
    const other = await call('PATCH', `/senders/${created.id}`, { credentials: { auth_token: 'abcdefgh1234' } }, { tenant: 'baker3' });
    expect(other.status).toBe(400);
    expect(other.body.issues[0].path).toBe('credentials.auth_token');
    const bad = await call('PATCH', `/senders/${created.id}`, { identifiers: { phone_number_id: 'not-digits' } }, { tenant: 'baker3' });
    expect(bad.status).toBe(400);
    expect(bad.body.issues[0].path).toBe('identifiers.phone_number_id');
    const tooFast = await call('PATCH', `/senders/${created.id}`, { mps: 0 }, { tenant: 'baker3' });
    expect(tooFast.status).toBe(400);
    expect(tooFast.body.issues[0].path).toBe('mps');
    expect((await call('GET', `/senders/${created.id}`, undefined, { tenant: 'baker3' })).body).toEqual(created);
  });

  it('one default per tenant; the default cannot be disabled until another is; disable and enable', async () => {
    const t = { tenant: 'cafe' };
    const a = (await call('POST', '/senders', metaSender({ label: 'A', default: true }), t)).body;
    const b = (await call('POST', '/senders', metaSender({ label: 'B', default: true }), t)).body;
    expect(b.default).toBe(true);
    const defaults = async () =>
      (await call('GET', '/senders', undefined, t)).body.items
        .filter((s: { default: boolean; tenant: string | null }) => s.default && s.tenant)
        .map((s: { label: string }) => s.label);
    expect(await defaults()).toEqual(['B']);

    const refused = await call('POST', `/senders/${b.id}/disable`, undefined, t);
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/default/);
    expect((await call('PATCH', `/senders/${a.id}`, { default: true }, t)).body.default).toBe(true);
    expect(await defaults()).toEqual(['A']);

    const disabled = await call('POST', `/senders/${b.id}/disable`, undefined, t);
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({ disabled: true, default: false });
    const cannot = await call('PATCH', `/senders/${b.id}`, { default: true }, t);
    expect(cannot.status).toBe(400);
    expect(cannot.body.issues[0].path).toBe('default');
    expect((await call('POST', `/senders/${b.id}/enable`, undefined, t)).body).toMatchObject({ disabled: false });
    expect((await call('POST', `/senders/${b.id}/enable`, undefined, { role: 'viewer', tenant: 'cafe' })).status).toBe(403);
  });
});

describe('resolving a sender', () => {
  it('a stored sender opens to a provider that sends with its own credentials; a wrong token is refused by the provider', async () => {
    const t = { tenant: 'resolver' };
    const created = (await call('POST', '/senders', metaSender({ credentials: { access_token: testSecrets.META_ACCESS_TOKEN } }), t)).body;
    const deps = { senders: stack.store.senders, box: SecretBox.fromKeys(senderKeys), config: stack.config };
    const sender = await resolveSender(created.id, deps);
    expect(sender).toMatchObject({ id: created.id, tenant: 'resolver', provider: 'meta', mps: 80, disabled: false });
    const to = uniquePhone();
    const sent = await providerFor(sender as NonNullable<typeof sender>, stack.config).send({
      id: 'msg_resolve',
      to,
      text: 'Hello from a stored sender',
    });
    expect(sent.provider_message_id).toMatch(/^wamid\./);

    await call('PATCH', `/senders/${created.id}`, { credentials: { access_token: 'EAAG-not-the-right-token' } }, t);
    const wrong = await resolveSender(created.id, deps);
    await expect(
      providerFor(wrong as NonNullable<typeof wrong>, stack.config).send({ id: 'msg_resolve2', to, text: 'x' }),
    ).rejects.toBeInstanceOf(ProviderError);

    expect((await resolveSender('env', deps))?.provider).toBe('meta');
    expect(await resolveSender('snd_01JH8ZQ6S9V3X4Y5Z6A7B8C9D0', deps)).toBeNull();
    await expect(resolveSender(created.id, { ...deps, box: undefined })).rejects.toThrow(/SENDER_KEYS/);
  });
});
