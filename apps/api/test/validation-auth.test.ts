import { createSigner } from 'fast-jwt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getMessage, reminder, send } from './helpers.ts';
import { type Stack, spawnHerald, startStack, uniquePhone } from './stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

async function countMessages() {
  return stack.store.messages.count();
}

describe('bad input is a 400 naming the field, and nothing is recorded', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['an invalid phone', reminder('+91 12345'), 'phone'],
    ['an unknown template', { phone: '+919876543210', message_type: 'nope', context: {} }, 'message_type'],
    [
      'a missing variable',
      { phone: '+919876543210', message_type: 'delivery_reminder', context: { customer_name: 'Asha' } },
      'context.delivery_date',
    ],
    [
      'a bad context key',
      reminder('+919876543210', { context: { customer_name: 'A', delivery_date: 'x', 'bad-key': 1 } }),
      'context.bad-key',
    ],
    [
      'a nested context value',
      reminder('+919876543210', { context: { customer_name: { first: 'A' }, delivery_date: 'x' } }),
      'context.customer_name',
    ],
    [
      'a context value over 1,024 characters',
      reminder('+919876543210', { context: { customer_name: 'x'.repeat(1025), delivery_date: 'x' } }),
      'context.customer_name',
    ],
    [
      'a NUL in a context value',
      reminder('+919876543210', { context: { customer_name: 'a\u0000b', delivery_date: 'x' } }),
      'context.customer_name',
    ],
    ['immediate of the wrong type', reminder('+919876543210', { immediate: 'yes' }), 'immediate'],
    ['a send_at that is not a date', reminder('+919876543210', { send_at: 'tomorrow' }), 'send_at'],
    ['an unknown field', reminder('+919876543210', { colour: 'red' }), 'colour'],
    ['phone missing', { message_type: 'delivery_reminder', context: {} }, 'phone'],
  ];
  for (const [what, body, path] of cases) {
    it(what, async () => {
      const before = await countMessages();
      const res = await send(stack, body);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('bad_request');
      expect(res.body.issues.map((i: { path: string }) => i.path)).toContain(path);
      expect(res.body.message).toEqual(expect.any(String));
      expect(await countMessages()).toBe(before);
    });
  }

  it('names the known types when the template is unknown', async () => {
    const res = await send(stack, { phone: '+919876543210', message_type: 'nope', context: {} });
    expect(res.body.issues[0].message).toContain('delivery_reminder');
  });

  it('accepts a number written without a country code, as DEFAULT_COUNTRY (IN)', async () => {
    const res = await send(stack, reminder('098765 43210', { immediate: false }));
    expect(res.status).toBe(202);
    expect(res.body.phone).toBe('+919876543210');
  });

  it('a body that is not JSON is a 400, not a 500', async () => {
    const res = await stack.api.inject({
      method: 'POST',
      url: '/api/notifications/send-message',
      headers: { authorization: `Bearer ${stack.token('service')}`, 'content-type': 'application/json' },
      payload: '{"phone":',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('bad_request');
  });
});

describe('auth, roles and tenants', () => {
  it('no token is 401 with the envelope', async () => {
    const res = await stack.api.inject({ method: 'POST', url: '/api/notifications/send-message', payload: reminder(uniquePhone()) });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ error: 'unauthorized' });
  });

  it('an expired token is 401', async () => {
    // Expired beyond the allowed clock skew (JWT_CLOCK_SKEW_MS, 30 s by default).
    const exp = Math.floor(Date.now() / 1000) - 120;
    const token = createSigner({ key: stack.config.JWT_SECRET as string, algorithm: 'HS256' })({ sub: 'x', role: 'service', exp });
    const res = await stack.api.inject({
      method: 'GET',
      url: '/api/notifications/history',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.statusCode).toBe(401);
  });

  it('a token signed with another secret, or alg none, is 401', async () => {
    const [h, p] = stack.token('admin').split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
    for (const token of [`${h}.${p}.AAAA`, none]) {
      const res = await stack.api.inject({
        method: 'GET',
        url: '/api/notifications/history',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.statusCode).toBe(401);
    }
  });

  it('a token without exp, or with an unknown role, is 401', async () => {
    const secret = stack.config.JWT_SECRET as string;
    const noExp = createSigner({ key: secret, algorithm: 'HS256' })({ sub: 'x', role: 'admin' });
    const badRole = createSigner({ key: secret, algorithm: 'HS256', expiresIn: 60_000 })({ sub: 'x', role: 'root' });
    for (const token of [noExp, badRole]) {
      const res = await stack.api.inject({
        method: 'GET',
        url: '/api/notifications/history',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.statusCode).toBe(401);
    }
  });

  it('a viewer may read but not send (403)', async () => {
    const res = await send(stack, reminder(uniquePhone()), { role: 'viewer' });
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('forbidden');
  });

  it("another tenant's message is 404; its own tenant and a tenant-less admin see it", async () => {
    const res = await send(stack, reminder(uniquePhone(), { immediate: false }), { tenant: 'acme' });
    expect(res.status).toBe(202);
    expect((await getMessage(stack, res.body.id, { tenant: 'globex' })).status).toBe(404);
    expect((await getMessage(stack, res.body.id)).status).toBe(404); // no tenant claim = tenant "default"
    expect((await getMessage(stack, res.body.id, { tenant: 'acme' })).status).toBe(200);
    expect((await getMessage(stack, res.body.id, { role: 'admin' })).status).toBe(200);
  });

  it('`pnpm token` mints a token the API accepts, with the role and tenant asked for', async () => {
    const run = spawnHerald('apps/api/src/bin/token.ts', stack.config, {}, ['--role', 'viewer', '--tenant', 'acme', '--ttl', '30m']);
    expect(await run.exited).toBe(0);
    const token = run.output().trim();
    const claims = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString());
    expect(claims).toMatchObject({ role: 'viewer', tenant: 'acme' });
    expect(claims.exp - claims.iat).toBe(1800);
    const auth = { authorization: `Bearer ${token}` };
    expect((await stack.api.inject({ method: 'GET', url: '/api/notifications/history', headers: auth })).statusCode).toBe(200);
    const post = await stack.api.inject({
      method: 'POST',
      url: '/api/notifications/send-message',
      headers: auth,
      payload: reminder(uniquePhone()),
    });
    expect(post.statusCode).toBe(403);
  });

  it('malformed ids and unknown routes are 404', async () => {
    expect((await getMessage(stack, 'not-an-id')).status).toBe(404);
    expect((await getMessage(stack, 'msg_01JH8ZQ6S9V3X4Y5Z6A7B8C9D0')).status).toBe(404);
    const res = await stack.api.inject({ method: 'GET', url: '/api/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error).toBe('not_found');
  });
});
