import { fastifyOptions, app as heraldApi } from '@herald/api';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send, simFor } from './helpers.ts';
import { type Stack, startStack, uniquePhone, waitFor } from './stack.ts';

// Templates synced from Meta (issue 12, item 3), against the simulator's management API over HTTP:
// the worker's sync at start and on the admin route, the webhooks applied at once, the 409 at accept.

/** The simulator's WhatsApp Business Account (its default `meta.wabaId`). */
const wabaId = '100000000000001';
/** Herald's defaults, each in en and en_US. */
const seeded = 22;
const extra = 130;

let stack: Stack;
let second: FastifyInstance;

beforeAll(async () => {
  stack = await startStack({ env: { META_WABA_ID: wabaId, TEMPLATE_SYNC_INTERVAL_MS: '0' } });
  // A second API on the same Redis and database: it learns of changes by pub/sub only.
  second = Fastify({ ...fastifyOptions, logger: false });
  await second.register(heraldApi, { config: stack.config });
  await second.ready();
}, 60_000);
afterAll(async () => {
  await second?.close();
  await stack?.close();
});

async function call(method: 'GET' | 'PUT' | 'POST', url: string, payload?: object, role: 'admin' | 'viewer' | 'service' = 'admin') {
  const res = await stack.api.inject({
    method,
    url: `/api/notifications${url}`,
    headers: { authorization: `Bearer ${stack.token(role)}` },
    ...(payload ? { payload } : {}),
  });
  return { status: res.statusCode, body: res.json() };
}

async function sim(method: 'GET' | 'PUT' | 'POST', path: string, body?: object) {
  const res = await fetch(`${stack.sim.url}${path}`, {
    method,
    ...(body ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });
  // biome-ignore lint/suspicious/noExplicitAny: the simulator's control answers, read field by field in each test.
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const order = (phone: string) => ({
  phone,
  message_type: 'order_confirmation',
  context: { order_id: 'ORD-7', delivery_date: '2026-02-01', total_amount: '450' },
});

describe('templates synced from Meta', () => {
  it('the worker reads every template at start', async () => {
    const docs = await waitFor(
      async () => {
        const list = await stack.store.providerTemplates.list('meta');
        return list.length === seeded ? list : undefined;
      },
      { what: 'the start sync' },
    );
    expect(docs.every((d) => d.status === 'APPROVED' && d.last_synced_at instanceof Date)).toBe(true);
  });

  it('the admin route syncs now, through more templates than one page, and answers the counts', async () => {
    const templates = Array.from({ length: extra }, (_, i) => ({
      name: `bulk_${String(i).padStart(3, '0')}`,
      language: 'en_US',
      ...(i % 10 === 0 ? { status: 'REJECTED', reason: 'PROMOTIONAL' } : {}),
    }));
    expect((await sim('POST', '/_sim/templates', { templates })).status).toBe(200);

    expect((await call('POST', '/templates/sync', undefined, 'service')).status).toBe(403);
    const res = await call('POST', '/templates/sync');
    expect(res.status).toBe(200);
    // Herald asks 100 a page: 152 templates take two.
    expect(res.body).toMatchObject({ templates: seeded + extra, pages: 2, changed: extra, removed: 0 });
    expect(Date.parse(res.body.synced_at)).toBeGreaterThan(Date.now() - 60_000);
    expect(await stack.store.providerTemplates.get('meta', 'bulk_129', 'en_US')).toMatchObject({ status: 'APPROVED' });
    expect(await stack.store.providerTemplates.get('meta', 'bulk_120', 'en_US')).toMatchObject({
      status: 'REJECTED',
      reason: 'PROMOTIONAL',
    });
  });

  it('a PAUSED template is refused at accept with 409 naming status and reason, then sent once Meta approves it again', async () => {
    const saved = await call('PUT', '/templates/order_confirmation', {
      content: 'Order #{{order_id}} confirmed. Delivery on {{delivery_date}}, total ₹{{total_amount}}.',
      providers: { meta: { name: 'order_confirmation', language: 'en_US', params: ['order_id', 'delivery_date', 'total_amount'] } },
    });
    expect(saved.status).toBe(200);

    const paused = await sim('PUT', '/_sim/templates/order_confirmation/en_US', { status: 'PAUSED', reason: 'Paused for low quality' });
    expect(paused.status).toBe(200);
    expect(paused.body.webhooks[0].posted.entry[0].changes[0].field).toBe('message_template_status_update');
    expect(paused.body.webhooks[0].herald.status).toBe(200);

    // Applied at once, no sync: refused before anything is queued or sent.
    const phone = uniquePhone();
    const refused = await send(stack, order(phone));
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe('template_not_approved');
    expect(refused.body.message).toMatch(/PAUSED/);
    expect(refused.body.message).toMatch(/Paused for low quality/);
    // Every API learns it over Redis.
    await waitFor(async () => {
      const res = await second.inject({
        method: 'POST',
        url: '/api/notifications/send-message',
        headers: { authorization: `Bearer ${stack.token('service')}` },
        payload: order(phone),
      });
      return res.statusCode === 409 && res.json().error === 'template_not_approved';
    });
    // send-bulk refuses the item, not the request.
    const bulk = await stack.api.inject({
      method: 'POST',
      url: '/api/notifications/send-bulk',
      headers: { authorization: `Bearer ${stack.token('service')}` },
      payload: { messages: [order(phone), { phone, message_type: 'system_alert', context: { alert_message: 'hi' } }] },
    });
    expect(bulk.statusCode).toBe(207);
    expect(bulk.json().results[0]).toMatchObject({ index: 0, error: 'template_not_approved' });
    expect(bulk.json().results[1]).toMatchObject({ index: 1, status: 'queued' });

    const shown = await call('GET', '/templates/order_confirmation', undefined, 'viewer');
    expect(shown.body.provider_status.meta).toMatchObject({
      name: 'order_confirmation',
      language: 'en_US',
      status: 'PAUSED',
      reason: 'Paused for low quality',
    });

    const approved = await sim('PUT', '/_sim/templates/order_confirmation/en_US', { status: 'APPROVED' });
    expect(approved.body.webhooks[0].herald.status).toBe(200);
    const accepted = await send(stack, order(phone));
    expect([200, 202]).toContain(accepted.status);
    const record = await waitFor(async () =>
      (await simFor(stack, phone)).messages.find((m) => m.id && (m as { type?: string }).type === 'template'),
    );
    expect((record as unknown as { template: { name: string } }).template.name).toBe('order_confirmation');
    expect((await call('GET', '/templates/order_confirmation', undefined, 'viewer')).body.provider_status.meta).toMatchObject({
      status: 'APPROVED',
      reason: null,
    });
  });

  it('the templates API shows status, quality and last sync; a quality webhook is applied at once', async () => {
    const list = await call('GET', '/templates', undefined, 'viewer');
    expect(list.status).toBe(200);
    const item = list.body.items.find((t: { type: string }) => t.type === 'order_confirmation');
    expect(item.provider_status.meta).toMatchObject({ status: 'APPROVED', quality: 'UNKNOWN', category: 'UTILITY' });
    expect(Date.parse(item.provider_status.meta.last_synced_at)).toBeGreaterThan(0);
    // A template without a Meta mapping has nothing to show.
    expect(list.body.items.find((t: { type: string }) => t.type === 'system_alert').provider_status).toEqual({});

    const red = await sim('PUT', '/_sim/templates/order_confirmation/en_US', { quality: 'RED' });
    expect(red.body.webhooks[0].posted.entry[0].changes[0]).toMatchObject({
      field: 'message_template_quality_update',
      value: { previous_quality_score: 'UNKNOWN', new_quality_score: 'RED' },
    });
    expect(red.body.webhooks[0].herald.status).toBe(200);
    const one = await call('GET', '/templates/order_confirmation', undefined, 'viewer');
    expect(one.body.provider_status.meta).toMatchObject({ status: 'APPROVED', quality: 'RED' });
    // RED is still sendable.
    expect((await send(stack, order(uniquePhone()))).body.status).toBe('sent');
  });

  it('a change Meta made without a webhook reaching Herald is found by the next sync', async () => {
    await sim('PUT', '/_sim/templates/order_confirmation/en_US', { status: 'DISABLED', webhook: false });
    // Herald does not know yet: accepted, and Meta refuses the send (132016).
    const unaware = await send(stack, order(uniquePhone()));
    expect(unaware.status).toBe(200);
    expect(unaware.body.status).toBe('failed');
    // A webhook stands for the end of its second (meta-template-events.ts): a list read within the
    // second of the last status webhook (the earlier tests') rightly does not override it.
    await new Promise((r) => setTimeout(r, 1100));
    const res = await call('POST', '/templates/sync');
    expect(res.body).toMatchObject({ changed: 1 });
    const refused = await send(stack, order(uniquePhone()));
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/DISABLED/);
  });

  it('a Meta mapping Herald has never seen from Meta is not refused', async () => {
    const saved = await call('PUT', '/templates/never_synced', {
      content: 'Hi {{customer_name}}',
      providers: { meta: { name: 'not_at_meta_yet', language: 'en', params: ['customer_name'] } },
    });
    expect(saved.status).toBe(201);
    expect(saved.body.provider_status).toEqual({ meta: null });
    const res = await send(stack, { phone: uniquePhone(), message_type: 'never_synced', context: { customer_name: 'Asha' } });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('sent');
  });

  it('a template status webhook with a bad signature changes nothing', async () => {
    const body = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: wabaId,
          time: Math.floor(Date.now() / 1000),
          changes: [
            {
              field: 'message_template_status_update',
              value: { event: 'APPROVED', message_template_name: 'order_confirmation', message_template_language: 'en_US', reason: 'NONE' },
            },
          ],
        },
      ],
    });
    const forged = await sim('POST', '/_sim/webhook', { body, signature: 'invalid' });
    expect(forged.body.herald.status).toBe(401);
    expect((await stack.store.providerTemplates.get('meta', 'order_confirmation', 'en_US'))?.status).toBe('DISABLED');
  });
});
