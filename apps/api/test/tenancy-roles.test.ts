import { newMessageDocument, newMessageId } from '@herald/shared';
import { createSigner } from 'fast-jwt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reminder, send } from './helpers.ts';
import { type Role, type Stack, startStack, testSecrets, uniquePhone } from './stack.ts';

let stack: Stack;
const acmePhone = uniquePhone();
const globexPhone = uniquePhone();
let acmeScheduled: string;
let acmeFailed: string;
const later = () => new Date(Date.now() + 3_600_000).toISOString();

beforeAll(async () => {
  // A worker writes the accepted messages to history; they are scheduled an hour ahead, so it
  // sends none of them.
  stack = await startStack();
  acmeScheduled = (await send(stack, reminder(acmePhone, { send_at: later() }), { tenant: 'acme' })).body.id;
  await send(stack, reminder(globexPhone, { send_at: later() }), { tenant: 'globex' });
  await send(stack, reminder(uniquePhone(), { send_at: later() })); // no tenant claim: tenant "default"
  acmeFailed = newMessageId();
  const failed = newMessageDocument({
    _id: acmeFailed,
    tenant: 'acme',
    phone: acmePhone,
    message_type: 'system_alert',
    context: { alert_message: 'x' },
    status: 'failed',
    provider: 'meta',
    created_at: new Date(),
  });
  await stack.store.messages.insert(failed); // counted by the store, as a worker's write would be
  await stack.settled();
});
afterAll(() => stack?.close());

const allRoles: Role[] = ['admin', 'service', 'viewer'];
const writers: Role[] = ['admin', 'service'];
const admins: Role[] = ['admin'];

interface RouteCase {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: () => string;
  roles: Role[];
  payload?: () => object;
}

const unknownId = () => newMessageId();
const routes: RouteCase[] = [
  {
    method: 'POST',
    url: () => '/api/notifications/send-message',
    roles: writers,
    payload: () => reminder(uniquePhone(), { immediate: false }),
  },
  { method: 'POST', url: () => '/api/notifications/send-bulk', roles: writers, payload: () => ({ messages: [reminder(uniquePhone())] }) },
  { method: 'GET', url: () => `/api/notifications/messages/${acmeScheduled}`, roles: allRoles },
  { method: 'DELETE', url: () => `/api/notifications/messages/${unknownId()}`, roles: writers },
  { method: 'GET', url: () => '/api/notifications/history', roles: allRoles },
  { method: 'GET', url: () => `/api/notifications/history/${encodeURIComponent(acmePhone)}`, roles: allRoles },
  { method: 'POST', url: () => `/api/notifications/resend/${unknownId()}`, roles: admins },
  { method: 'GET', url: () => '/api/notifications/statistics', roles: allRoles },
  { method: 'GET', url: () => '/api/notifications/templates', roles: allRoles },
  { method: 'GET', url: () => '/api/notifications/templates/system_alert', roles: allRoles },
  { method: 'GET', url: () => '/api/notifications/templates/system_alert/versions', roles: allRoles },
  { method: 'PUT', url: () => '/api/notifications/templates/matrix_note', roles: admins, payload: () => ({ content: 'Hi {{name}}' }) },
  {
    method: 'POST',
    url: () => '/api/notifications/templates/system_alert/preview',
    roles: allRoles,
    payload: () => ({ context: { alert_message: 'x' } }),
  },
  { method: 'GET', url: () => `/api/notifications/settings/${encodeURIComponent(acmePhone)}`, roles: allRoles },
  {
    method: 'PUT',
    url: () => `/api/notifications/settings/${encodeURIComponent(uniquePhone())}`,
    roles: admins,
    payload: () => ({ opted_out: false }),
  },
  { method: 'POST', url: () => '/api/notifications/process-queue', roles: admins },
  { method: 'GET', url: () => '/admin/queues/api/queues', roles: admins },
];

const secret = testSecrets.JWT_SECRET;
const badSignature = (role: Role) =>
  createSigner({ key: `${secret}-but-another-one`, algorithm: 'HS256', expiresIn: 60_000 })({ sub: 'x', role });
const expired = (role: Role) =>
  createSigner({ key: secret, algorithm: 'HS256' })({ sub: 'x', role, exp: Math.floor(Date.now() / 1000) - 60 });

async function call(route: RouteCase, authorization?: string) {
  const res = await stack.api.inject({
    method: route.method,
    url: route.url(),
    headers: authorization ? { authorization } : {},
    ...(route.payload ? { payload: route.payload() } : {}),
  });
  return res.statusCode;
}

describe('roles matrix: every route × no token / bad signature / expired / wrong role / right role', () => {
  for (const route of routes) {
    it(`${route.method} ${route.url().replace(/msg_\w+/, '{id}')}`, async () => {
      expect(await call(route), 'no token').toBe(401);
      expect(await call(route, `Bearer ${badSignature('admin')}`), 'bad signature').toBe(401);
      expect(await call(route, `Bearer ${expired('admin')}`), 'expired').toBe(401);
      expect(await call(route, 'Basic YWRtaW46YWRtaW4='), 'not a bearer token').toBe(401);
      for (const role of allRoles) {
        const status = await call(route, `Bearer ${stack.token(role, 'matrix')}`);
        if (route.roles.includes(role)) expect([401, 403], `${role} is allowed`).not.toContain(status);
        else expect(status, `${role} is not allowed`).toBe(403);
      }
    });
  }

  it('health and docs are public', async () => {
    expect((await stack.api.inject({ method: 'GET', url: '/api/notifications/health' })).statusCode).toBe(200);
    expect((await stack.api.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(200);
  });
});

describe('tenancy', () => {
  const as = (role: Role, tenant: string | null) => ({ authorization: `Bearer ${stack.token(role, tenant ?? undefined)}` });
  const get = async (url: string, headers: Record<string, string>) => {
    const res = await stack.api.inject({ method: 'GET', url, headers });
    return { status: res.statusCode, body: res.json() };
  };

  it('another tenant’s message is 404 for every route that names it, and untouched', async () => {
    for (const role of allRoles) {
      expect((await get(`/api/notifications/messages/${acmeScheduled}`, as(role, 'globex'))).status).toBe(404);
    }
    const del = await stack.api.inject({
      method: 'DELETE',
      url: `/api/notifications/messages/${acmeScheduled}`,
      headers: as('service', 'globex'),
    });
    expect(del.statusCode).toBe(404);
    const resend = await stack.api.inject({
      method: 'POST',
      url: `/api/notifications/resend/${acmeFailed}`,
      headers: as('admin', 'globex'),
    });
    expect(resend.statusCode).toBe(404);
    expect((await stack.store.messages.get(acmeScheduled))?.status).toBe('scheduled');
    expect((await stack.store.messages.get(acmeFailed))?.status).toBe('failed');
    // A token without a tenant acts as `default`, unless it is an admin's.
    expect((await get(`/api/notifications/messages/${acmeScheduled}`, as('viewer', null))).status).toBe(404);
    expect((await get(`/api/notifications/messages/${acmeScheduled}`, as('admin', null))).status).toBe(200);
  });

  it('history, per-phone history and statistics show only the caller’s tenant; ?tenant= is ignored for them', async () => {
    const globex = await get('/api/notifications/history', as('viewer', 'globex'));
    expect(globex.body.items.map((m: { phone: string }) => m.phone)).toEqual([globexPhone]);
    expect((await get('/api/notifications/history?tenant=acme', as('viewer', 'globex'))).body.total).toBe(1);
    expect((await get(`/api/notifications/history/${encodeURIComponent(acmePhone)}`, as('viewer', 'globex'))).body.total).toBe(0);
    expect((await get(`/api/notifications/history/${encodeURIComponent(acmePhone)}`, as('viewer', 'acme'))).body.total).toBe(2);
    expect((await get('/api/notifications/statistics', as('viewer', 'globex'))).body.total).toBe(1);
    expect((await get('/api/notifications/statistics?tenant=acme', as('admin', 'globex'))).body.total).toBe(1);
  });

  it('an admin without a tenant sees every tenant, and may filter one with ?tenant=', async () => {
    await stack.settled();
    const everything = await stack.store.messages.count();
    const tenants = [...new Set((await stack.store.messages.list({}, 10_000)).map((m) => m.tenant))];
    expect(tenants.length).toBeGreaterThanOrEqual(3); // acme, globex, default (and the matrix's)
    const all = await get('/api/notifications/history?limit=200', as('admin', null));
    expect(all.body.total).toBe(everything);
    expect(new Set(all.body.items.map((m: { phone: string }) => m.phone))).toContain(globexPhone);
    expect((await get('/api/notifications/history?tenant=acme', as('admin', null))).body.total).toBe(2);
    expect((await get('/api/notifications/statistics', as('admin', null))).body.total).toBe(everything);
    expect((await get('/api/notifications/statistics?tenant=globex', as('admin', null))).body.total).toBe(1);
  });
});
