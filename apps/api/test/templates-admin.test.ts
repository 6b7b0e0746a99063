import { createRedis } from '@herald/shared';
import { connectStore } from '@herald/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getMessage, send, simFor } from './helpers.ts';
import { type Stack, startStack, uniquePhone, waitFor } from './stack.ts';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

async function call(method: 'GET' | 'PUT' | 'POST', url: string, payload?: object, role: 'admin' | 'viewer' | 'service' = 'admin') {
  const res = await stack.api.inject({
    method,
    url: `/api/notifications${url}`,
    headers: { authorization: `Bearer ${stack.token(role)}` },
    ...(payload ? { payload } : {}),
  });
  return { status: res.statusCode, body: res.json() };
}

describe('templates admin', () => {
  it('lists the eleven defaults and gets one with its version and variables', async () => {
    const list = await call('GET', '/templates', undefined, 'viewer');
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(11);
    const one = await call('GET', '/templates/payment_confirmation', undefined, 'viewer');
    expect(one.body).toMatchObject({ type: 'payment_confirmation', version: 1, variables: ['amount', 'period', 'payment_method'] });
    expect((await call('GET', '/templates/nope', undefined, 'viewer')).status).toBe(404);
  });

  it('refuses a template that does not compile, naming the error, and saves nothing', async () => {
    const res = await call('PUT', '/templates/broken_one', { content: 'Hi {{#if name}}unclosed' });
    expect(res.status).toBe(400);
    expect(res.body.issues[0].path).toBe('content');
    expect(res.body.message).toMatch(/does not compile/);
    expect((await call('GET', '/templates/broken_one')).status).toBe(404);
  });

  it('refuses a provider mapping that names variables the content lacks', async () => {
    const res = await call('PUT', '/templates/mapped_one', {
      content: 'Hi {{name}}',
      providers: { meta: { name: 'hello', language: 'en', params: ['name', 'other'] } },
    });
    expect(res.status).toBe(400);
    expect(res.body.issues[0].path).toBe('providers.meta.params[1]');
    expect(res.body.message).toMatch(/"other" is not a variable of this template/);
  });

  it('only admins change templates', async () => {
    expect((await call('PUT', '/templates/x_type', { content: 'x' }, 'service')).status).toBe(403);
    expect((await call('PUT', '/templates/x_type', { content: 'x' }, 'viewer')).status).toBe(403);
  });

  it('creates, updates, keeps every version, rolls back, and workers send the current version', async () => {
    const phone = uniquePhone();
    const created = await call('PUT', '/templates/promo_note', { content: 'Hello {{customer_name}} v1', category: 'marketing' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ version: 1, variables: ['customer_name'], active: true });

    const first = await send(stack, { phone, message_type: 'promo_note', context: { customer_name: 'Asha' }, immediate: false });
    expect(first.status).toBe(202);
    const firstDone = await waitFor(async () => {
      const m = await getMessage(stack, first.body.id);
      return m.body.sent_at ? m.body : undefined;
    });
    expect(firstDone).toMatchObject({ message_text: 'Hello Asha v1', template_version: 1 });

    const updated = await call('PUT', '/templates/promo_note', { content: 'Hi {{customer_name}}, code {{code}} (v2)' });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ version: 2, variables: ['customer_name', 'code'], category: 'marketing' });

    // The API knows the new variables at once.
    const missing = await send(stack, { phone, message_type: 'promo_note', context: { customer_name: 'Asha' } });
    expect(missing.status).toBe(400);
    expect(missing.body.issues[0].path).toBe('context.code');

    // The running worker renders the new version (pub/sub; generous deadline, no timing claims).
    const second = await send(stack, {
      phone,
      message_type: 'promo_note',
      context: { customer_name: 'Ravi', code: 'X1' },
      immediate: false,
    });
    const secondDone = await waitFor(async () => {
      const m = await getMessage(stack, second.body.id);
      return m.body.sent_at ? m.body : undefined;
    });
    expect(secondDone).toMatchObject({ message_text: 'Hi Ravi, code X1 (v2)', template_version: 2 });
    const sim = await simFor(stack, phone);
    expect(sim.messages.map((m) => m.text)).toContain('Hi Ravi, code X1 (v2)');

    // Roll back: PUT the content of version 1 again; it becomes version 3.
    const versions = await call('GET', '/templates/promo_note/versions', undefined, 'viewer');
    expect(versions.body.items.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    const v1 = versions.body.items[1];
    const rolled = await call('PUT', '/templates/promo_note', { content: v1.content });
    expect(rolled.body).toMatchObject({ version: 3, variables: ['customer_name'] });
    expect((await call('GET', '/templates/promo_note/versions')).body.items).toHaveLength(3);

    // Deactivated: sends are refused with 409.
    await call('PUT', '/templates/promo_note', { content: v1.content, active: false });
    const refused = await send(stack, { phone, message_type: 'promo_note', context: { customer_name: 'Asha' } });
    expect(refused.status).toBe(409);
  });

  it('previews with a context, sending nothing; names a missing variable', async () => {
    const ok = await call('POST', '/templates/payment_reminder/preview', { context: { amount: 250, period: 'January' } }, 'viewer');
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ text: 'Payment due: ₹250 for January.', version: 1 });
    const bad = await call('POST', '/templates/payment_reminder/preview', { context: { amount: 250 } }, 'viewer');
    expect(bad.status).toBe(400);
    expect(bad.body.issues[0].path).toBe('context.period');
  });

  it('an edited default survives a restart (defaults are installed only where absent)', async () => {
    const edited = await call('PUT', '/templates/system_alert', { content: '⚠️ ALERT: {{alert_message}}' });
    expect(edited.status).toBe(200);
    // Another process starting on the same database installs the defaults where absent.
    const redis = createRedis(stack.config);
    const store = await connectStore({ url: stack.config.MONGO_URL, locks: { redis, prefix: stack.config.QUEUE_PREFIX } });
    await store.close();
    await redis.quit();
    const after = await call('GET', '/templates/system_alert');
    expect(after.body).toMatchObject({ content: '⚠️ ALERT: {{alert_message}}', version: 2 });
  });
});
