import { describe, expect, it } from 'vitest';
import { control, type Json, PHONE_NUMBER_ID, send, setFaults, sleep, statusOf, textMessage, useHarness, waitFor } from './helpers.ts';

const h = useHarness();

async function sendOne(to = '+919876543210'): Promise<string> {
  const response = await send(h.sendUrl, textMessage(to));
  expect(response.status).toBe(200);
  return response.body.messages[0].id;
}

function statusesFor(id: string): string[] {
  return h.herald.received.filter((webhook) => statusOf(webhook).id === id).map((webhook) => statusOf(webhook).status);
}

describe('status webhooks', () => {
  it('posts sent, delivered, read in order, each signed over its exact bytes', async () => {
    const before = Math.floor(Date.now() / 1000);
    const id = await sendOne('+919876543210');
    await waitFor(() => statusesFor(id).length === 3, 10_000, 'three status webhooks');
    expect(statusesFor(id)).toEqual(['sent', 'delivered', 'read']);
    for (const webhook of h.herald.received) {
      expect(webhook.signatureValid).toBe(true);
      expect(webhook.signature).toMatch(/^sha256=[0-9a-f]{64}$/);
      expect(webhook.contentType).toMatch(/^application\/json/);
      expect(webhook.json).toEqual({
        object: 'whatsapp_business_account',
        entry: [
          {
            id: expect.any(String),
            changes: [
              {
                field: 'messages',
                value: {
                  messaging_product: 'whatsapp',
                  metadata: { display_phone_number: expect.any(String), phone_number_id: PHONE_NUMBER_ID },
                  statuses: [
                    { id, status: expect.any(String), timestamp: expect.stringMatching(/^\d{10}$/), recipient_id: '919876543210' },
                  ],
                },
              },
            ],
          },
        ],
      });
      expect(Number(statusOf(webhook).timestamp)).toBeGreaterThanOrEqual(before);
    }
    const records = await control(h.sim, 'GET', '/_sim/messages');
    expect(records.body.messages[0].webhooks).toEqual([
      expect.objectContaining({ status: 'sent', delivered: true, attempts: 1 }),
      expect.objectContaining({ status: 'delivered', delivered: true, attempts: 1 }),
      expect.objectContaining({ status: 'read', delivered: true, attempts: 1 }),
    ]);
  });

  it('honours the configured per-status delays', async () => {
    await setFaults(h.sim, { webhooks: { delays_ms: { sent: 50, delivered: 250, read: 450 } } });
    const acceptedAt = Date.now();
    const id = await sendOne();
    await waitFor(() => statusesFor(id).length === 3, 10_000);
    const at = h.herald.received.map((webhook) => webhook.receivedAt - acceptedAt);
    expect(at[0]).toBeGreaterThanOrEqual(45);
    expect(at[1]).toBeGreaterThanOrEqual(245);
    expect(at[2]).toBeGreaterThanOrEqual(445);
    expect(at[0]).toBeLessThan(at[1] ?? 0);
  });

  it('retries a webhook Herald refuses, and records the attempts', async () => {
    let sentRefusals = 0;
    h.herald.answer = (webhook) => (statusOf(webhook).status === 'sent' && sentRefusals++ < 2 ? 500 : 200);
    const id = await sendOne();
    await waitFor(() => statusesFor(id).length === 5, 10_000, 'two failures then success');
    expect(statusesFor(id).filter((status) => status === 'sent')).toHaveLength(3);
    const records = await control(h.sim, 'GET', '/_sim/messages');
    expect(records.body.messages[0].webhooks[0]).toMatchObject({ status: 'sent', delivered: true, attempts: 3 });
    const stats = await control(h.sim, 'GET', '/_sim/stats');
    expect(stats.body.webhooks).toMatchObject({ sent: 3, retried: 2, failed: 0 });
  });

  it('gives up after the configured attempts and counts the failure', async () => {
    h.herald.answer = () => 503;
    await setFaults(h.sim, { webhooks: { statuses: ['sent'] } });
    const id = await sendOne();
    await waitFor(() => statusesFor(id).length === 4, 10_000, 'four attempts');
    // The last answer is counted after Herald has seen the request.
    await sleep(100);
    const stats = await control(h.sim, 'GET', '/_sim/stats');
    expect(stats.body.webhooks).toMatchObject({ failed: 1, sent: 0, retried: 3 });
    await sleep(400);
    expect(statusesFor(id)).toHaveLength(4);
  });
});

describe('webhook faults', () => {
  it('drops every webhook when drop_rate is 1, and counts them', async () => {
    await setFaults(h.sim, { webhooks: { drop_rate: 1 } });
    await sendOne();
    await sleep(200);
    expect(h.herald.received).toHaveLength(0);
    const stats = await control(h.sim, 'GET', '/_sim/stats');
    expect(stats.body.webhooks.dropped).toBe(3);
    const records = await control(h.sim, 'GET', '/_sim/messages');
    expect(records.body.messages[0].webhooks.every((webhook: Json) => webhook.dropped && !webhook.delivered)).toBe(true);
  });

  it('posts each webhook twice, byte for byte, when duplicate_rate is 1', async () => {
    await setFaults(h.sim, { webhooks: { duplicate_rate: 1 } });
    const id = await sendOne();
    await waitFor(() => statusesFor(id).length === 6, 10_000, 'six webhooks');
    for (const status of ['sent', 'delivered', 'read']) {
      const copies = h.herald.received.filter((webhook) => statusOf(webhook).status === status);
      expect(copies).toHaveLength(2);
      expect(copies[0]?.raw).toBe(copies[1]?.raw);
      expect(copies.every((webhook) => webhook.signatureValid)).toBe(true);
    }
  });

  it('posts the statuses in reverse order when reorder is set', async () => {
    await setFaults(h.sim, { webhooks: { reorder: true } });
    const id = await sendOne();
    await waitFor(() => statusesFor(id).length === 3, 10_000);
    expect(statusesFor(id)).toEqual(['read', 'delivered', 'sent']);
  });

  it('posts only the listed statuses', async () => {
    await setFaults(h.sim, { webhooks: { statuses: ['sent', 'read'] } });
    const id = await sendOne();
    await waitFor(() => statusesFor(id).length === 2, 10_000);
    await sleep(100);
    expect(statusesFor(id)).toEqual(['sent', 'read']);
  });

  it('posts a failed status with Meta errors[] instead of delivered and read', async () => {
    await setFaults(h.sim, { webhooks: { fail: { code: 131026 } } });
    const id = await sendOne();
    await waitFor(() => statusesFor(id).length === 2, 10_000);
    await sleep(100);
    expect(statusesFor(id)).toEqual(['sent', 'failed']);
    const failed = h.herald.received.map(statusOf).find((status) => status.status === 'failed');
    expect(failed.errors).toEqual([
      { code: 131026, title: expect.any(String), message: expect.any(String), error_data: { details: expect.any(String) } },
    ]);
  });
});
