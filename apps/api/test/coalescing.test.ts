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
});
