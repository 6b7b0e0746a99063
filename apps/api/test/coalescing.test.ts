import { registry } from '@herald/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getMessage, metaWebhook, postMetaWebhook, reminder, send } from './helpers.ts';
import { type Stack, startStack, uniquePhone, waitFor } from './stack.ts';

let stack: Stack;
beforeAll(async () => {
  // The simulator's own webhooks stay away: this test posts its own. A wide window, so a slow
  // machine still gathers the three requests into one batch.
  stack = await startStack({ webhookDelaysMs: { sent: 600_000, delivered: 600_000, read: 600_000 }, env: { STATUS_COALESCE_MS: '300' } });
});
afterAll(() => stack?.close());

const statusBody = (wamid: string, status: string, timestamp: number) =>
  metaWebhook({ statuses: [{ id: wamid, status, timestamp: String(timestamp), recipient_id: '919876543210' }] });

const writes = async () => (await registry.getSingleMetric('herald_status_writes_total')?.get())?.values[0]?.value ?? 0;

describe('status events coalesced', () => {
  it('three webhooks for one message in quick succession become one store write, and the final status is right', async () => {
    const sent = await send(stack, reminder(uniquePhone()));
    expect(sent.body.status).toBe('sent');
    const wamid = sent.body.provider_message_id as string;
    const t = Math.floor(Date.now() / 1000);
    const before = await writes();
    const bodies = [statusBody(wamid, 'sent', t), statusBody(wamid, 'delivered', t + 1), statusBody(wamid, 'read', t + 2)];
    const answers = await Promise.all(bodies.map((raw) => postMetaWebhook(stack, raw)));
    expect(answers).toEqual([200, 200, 200]);
    const read = await waitFor(async () => {
      const m = (await getMessage(stack, sent.body.id)).body;
      return m.status === 'read' ? m : undefined;
    });
    expect(read.events.filter((e: { source: string }) => e.source === 'webhook').map((e: { status: string }) => e.status)).toEqual([
      'sent',
      'delivered',
      'read',
    ]);
    expect(read.delivered_at).not.toBeNull();
    expect((await writes()) - before).toBe(1);
  });

  it("a message's window is its own: events for it 180 ms apart are one write though another message's window closed between them", async () => {
    const [a, b] = await Promise.all([send(stack, reminder(uniquePhone())), send(stack, reminder(uniquePhone()))]);
    const t = Math.floor(Date.now() / 1000);
    const before = await writes();
    // A's event opens a window at 0 that closes at 300 ms; B's three arrive at 200, 260 and 380 ms.
    // One window for all would write A with B's first two and B's read on its own.
    const start = Date.now();
    const at = async (ms: number, raw: string) => {
      await new Promise((r) => setTimeout(r, Math.max(0, start + ms - Date.now())));
      return postMetaWebhook(stack, raw);
    };
    const wamidA = a.body.provider_message_id as string;
    const wamidB = b.body.provider_message_id as string;
    const answers = await Promise.all([
      at(0, statusBody(wamidA, 'delivered', t)),
      at(200, statusBody(wamidB, 'sent', t)),
      at(260, statusBody(wamidB, 'delivered', t + 1)),
      at(380, statusBody(wamidB, 'read', t + 2)),
    ]);
    expect(answers).toEqual([200, 200, 200, 200]);
    await waitFor(async () => (await getMessage(stack, b.body.id)).body.status === 'read', { what: 'B read' });
    await waitFor(async () => (await getMessage(stack, a.body.id)).body.status === 'delivered', { what: 'A delivered' });
    expect((await writes()) - before).toBe(2);
  });
});
