import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyCallbackSignature } from '@herald/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getMessage, reminder, send } from './helpers.ts';
import { type Stack, startStack, testSecrets, uniquePhone, waitFor } from './stack.ts';

let stack: Stack;

interface Received {
  body: { id: string; status: string; sequence: number; reference_id: string | null; provider_message_id: string | null };
  signed: boolean;
}

/** A receiver that checks every signature and keeps what it got, by message id. */
const received = new Map<string, Received[]>();
let receiver: Server;
let receiverUrl: string;
/** The first `failFirst` POSTs per message answer 500: callbacks must be retried. */
const failFirst = 1;
const seen = new Map<string, number>();

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => {
      raw += c.toString();
    });
    req.on('end', () => {
      const body = JSON.parse(raw) as Received['body'];
      const n = (seen.get(body.id) ?? 0) + 1;
      seen.set(body.id, n);
      if (n <= failFirst) {
        res.writeHead(500).end();
        return;
      }
      const signed = verifyCallbackSignature(testSecrets.CALLBACK_SECRET, raw, req.headers['x-herald-signature'] as string);
      received.set(body.id, [...(received.get(body.id) ?? []), { body, signed }]);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  stack = await startStack({ env: { CALLBACK_RETRY_BASE_MS: '100', CALLBACK_ATTEMPTS: '6', CALLBACK_TIMEOUT_MS: '2000' } });
});
afterAll(async () => {
  await stack?.close();
  receiver?.close();
});

async function bulk(messages: object[], role: 'service' | 'viewer' | 'admin' = 'service', tenant?: string) {
  const res = await stack.api.inject({
    method: 'POST',
    url: '/api/notifications/send-bulk',
    headers: { authorization: `Bearer ${stack.token(role, tenant)}` },
    payload: { messages },
  });
  return { status: res.statusCode, body: res.json() };
}

describe('send-bulk', () => {
  it('answers 207 with per-item results in input order; one bad item never rejects the others', async () => {
    const phones = [uniquePhone(), uniquePhone(), uniquePhone()];
    const res = await bulk([
      reminder(phones[0] as string),
      { phone: 'not a phone', message_type: 'delivery_reminder', context: {} },
      { ...reminder(phones[1] as string), context: { customer_name: 'A' } },
      { ...reminder(phones[2] as string), unexpected: 1 },
      { phone: phones[2], message_type: 'no_such_type', context: {} },
      reminder(phones[2] as string, { send_at: new Date(Date.now() + 3_600_000).toISOString() }),
    ]);
    expect(res.status).toBe(207);
    const r = res.body.results;
    expect(r.map((x: { index: number }) => x.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(r[0]).toMatchObject({ status: 'queued' });
    expect(r[0].id).toMatch(/^msg_/);
    expect(r[1]).toMatchObject({ error: 'bad_request' });
    expect(r[1].issues[0].path).toBe('messages.1.phone');
    expect(r[2].issues[0].path).toBe('messages.2.context.delivery_date');
    expect(r[3]).toMatchObject({ error: 'bad_request' });
    expect(r[4].issues[0].path).toBe('messages.4.message_type');
    expect(r[5]).toMatchObject({ status: 'scheduled' });
    // The accepted ones are recorded and actually sent.
    await waitFor(async () => (await getMessage(stack, r[0].id)).body.sent_at, { timeoutMs: 20_000, what: 'bulk item sent' });
    expect((await getMessage(stack, r[5].id)).body.status).toBe('scheduled');
  });

  it('keeps idempotency per item, within a request and across requests', async () => {
    const phone = uniquePhone();
    const key = `bulk-${phone}`;
    const first = await bulk([reminder(phone, { idempotency_key: key }), reminder(phone, { idempotency_key: key })]);
    const [a, b] = first.body.results;
    expect(a.id).toBe(b.id);
    const second = await bulk([
      reminder(phone, { idempotency_key: key }),
      reminder(phone, { idempotency_key: key, reference_id: 'other' }),
    ]);
    expect(second.body.results[0].id).toBe(a.id);
    expect(second.body.results[1]).toMatchObject({ error: 'conflict' });
    await stack.settled(); // the worker writes accepted messages to history
    const total = await stack.store.messages.count({ phone });
    expect(total).toBe(1);
  });

  it('refuses more than 1,000 messages, an empty list, and a viewer', async () => {
    const many = Array.from({ length: 1001 }, () => reminder('+919876543210'));
    const tooMany = await bulk(many);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.issues[0].path).toBe('messages');
    expect((await bulk([])).status).toBe(400);
    expect((await bulk([reminder(uniquePhone())], 'viewer')).status).toBe(403);
  });
});

describe('callbacks', () => {
  it('POSTs each status change, signed, retried after a failure; the highest sequence carries the final status', async () => {
    const phone = uniquePhone();
    const single = await send(stack, reminder(phone, { callback_url: receiverUrl, reference_id: 'order_cb' }));
    const viaBulk = await bulk([reminder(uniquePhone(), { callback_url: receiverUrl })]);
    for (const id of [single.body.id, viaBulk.body.results[0].id] as string[]) {
      const final = await waitFor(
        async () => {
          const m = (await getMessage(stack, id)).body;
          const got = received.get(id) ?? [];
          const top = got.reduce<Received | undefined>((best, x) => (!best || x.body.sequence > best.body.sequence ? x : best), undefined);
          const all = ['sent', 'delivered', 'read'].every((s) => got.some((x) => x.body.status === s));
          return m.status === 'read' && all && top?.body.status === 'read' ? { m, got } : undefined;
        },
        { timeoutMs: 20_000, what: 'callbacks up to read' },
      );
      expect(final.got.every((x) => x.signed)).toBe(true);
      const statuses = new Set(final.got.map((x) => x.body.status));
      expect(statuses).toEqual(new Set(['sent', 'delivered', 'read']));
      const sequences = final.got.map((x) => x.body.sequence);
      expect(new Set(sequences).size).toBe(sequences.length);
      expect(final.got.find((x) => x.body.status === 'read')?.body.provider_message_id).toBe(final.m.provider_message_id);
      expect(seen.get(id)).toBeGreaterThan(final.got.length); // the refused first POST was retried
    }
    expect(received.get(single.body.id)?.[0]?.body.reference_id).toBe('order_cb');
  });

  it('reports a cancel, and a dead callback URL never holds up or fails the message', async () => {
    const sched = await send(
      stack,
      reminder(uniquePhone(), { callback_url: receiverUrl, send_at: new Date(Date.now() + 3_600_000).toISOString() }),
    );
    await stack.api.inject({
      method: 'DELETE',
      url: `/api/notifications/messages/${sched.body.id}`,
      headers: { authorization: `Bearer ${stack.token('service')}` },
    });
    await waitFor(async () => received.get(sched.body.id)?.some((x) => x.body.status === 'cancelled' && x.signed), {
      timeoutMs: 20_000,
      what: 'cancel callback',
    });

    // Nothing listens on port 9 of loopback: every POST fails, the message goes on regardless.
    const dead = await send(stack, reminder(uniquePhone(), { callback_url: 'http://127.0.0.1:9/nowhere' }));
    await waitFor(async () => (await getMessage(stack, dead.body.id)).body.status === 'read', { timeoutMs: 20_000, what: 'read' });
    const jobs = await stack.queues.callback.getJobs(['delayed', 'failed', 'wait', 'active']);
    expect(jobs.some((j) => j.data.payload.id === dead.body.id)).toBe(true);
  });

  it('refuses a callback_url when CALLBACK_SECRET is not configured', async () => {
    const other = await startStack({ worker: false, env: { CALLBACK_SECRET: '' } });
    try {
      const res = await send(other, reminder(uniquePhone(), { callback_url: receiverUrl }));
      expect(res.status).toBe(400);
      expect(res.body.issues[0].path).toBe('callback_url');
    } finally {
      await other.close();
    }
  });
});
