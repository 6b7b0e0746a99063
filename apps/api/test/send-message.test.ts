import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getMessage, reminder, send, simFor } from './helpers.ts';
import { type Stack, startStack, uniquePhone, waitFor } from './stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { BRAND_NAME: 'Dairy Fresh' } });
});
afterAll(() => stack?.close());

const statusOf = async (id: string) => (await getMessage(stack, id)).body.status as string;

describe('send-message end to end', () => {
  it('immediate:true answers 200 sent, then follows the message to read', async () => {
    const phone = uniquePhone();
    const res = await send(stack, reminder(phone, { reference_id: 'order_1' }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      phone,
      status: 'sent',
      provider: 'meta',
      reference_id: 'order_1',
      message_text: 'Hi Asha, your Dairy Fresh delivery is scheduled for 2026-02-01.',
    });
    expect(res.body.id).toMatch(/^msg_[0-9A-Z]{26}$/);
    expect(res.body.provider_message_id).toMatch(/^wamid\./);

    await waitFor(async () => (await statusOf(res.body.id)) === 'read', { what: 'read' });
    // `read` can be applied before `delivered` (two webhook requests, processed concurrently):
    // wait for all three webhook events, not only for the final status.
    await waitFor(async () => (await getMessage(stack, res.body.id)).body.events.length >= 5, { what: 'every webhook event' });
    const { body } = await getMessage(stack, res.body.id);
    expect(body.delivered_at).not.toBeNull();
    expect(body.read_at).not.toBeNull();
    expect(body.attempts).toBe(1);
    expect(body.template_version).toBe(1);
    const steps = body.events.map((e: { status: string; source: string }) => `${e.source}:${e.status}`);
    // Webhooks are applied as they are processed; delivered and read, a few ms apart with the
    // same one-second provider timestamp, may land in either order.
    expect(steps.slice(0, 3)).toEqual(['api:queued', 'worker:sent', 'webhook:sent']);
    expect(steps.slice(3).sort()).toEqual(['webhook:delivered', 'webhook:read']);
    expect(body.events[1].attempt).toBe(1);
    const sim = await simFor(stack, phone);
    expect(sim.messages).toHaveLength(1);
    expect(sim.messages[0]?.text).toBe(res.body.message_text);

    // What statistics need is stored on the message when each span ends (SPEC 2.2).
    const stored = await stack.store.messages.get(res.body.id);
    expect(stored?.day).toBe(res.body.created_at.slice(0, 10));
    expect(stored?.queued_to_sent_ms).toBe(new Date(body.sent_at).getTime() - new Date(body.queued_at).getTime());
    expect([100, 250, 500, 1000, 2500]).toContain(stored?.queued_to_sent_bucket);
    expect(stored?.sent_to_delivered_ms).toBeGreaterThanOrEqual(0);
    expect(stored?.sent_to_delivered_bucket).toEqual(expect.any(Number));
  });

  it('immediate:false answers 202 queued at once and sends in the background', async () => {
    const phone = uniquePhone();
    const res = await send(stack, reminder(phone, { immediate: false }));
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('queued');
    expect(res.body.message_text).toBeNull();
    await waitFor(async () => ['sent', 'delivered', 'read'].includes(await statusOf(res.body.id)), { what: 'sent' });
  });

  it('send_at in the future is scheduled, then sent when due; queued_at is the due time', async () => {
    const phone = uniquePhone();
    const due = new Date(Date.now() + 1500);
    const res = await send(stack, reminder(phone, { send_at: due.toISOString() }));
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('scheduled');
    expect((await simFor(stack, phone)).messages).toHaveLength(0);
    await waitFor(async () => (await statusOf(res.body.id)) === 'read', { what: 'read' });
    const { body } = await getMessage(stack, res.body.id);
    expect(new Date(body.sent_at).getTime()).toBeGreaterThanOrEqual(due.getTime() - 5);
    expect(body.queued_at).toBe(due.toISOString());
  });

  it('send_at in the past means now', async () => {
    const res = await send(stack, reminder(uniquePhone(), { send_at: new Date(Date.now() - 60_000).toISOString() }));
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('sent');
  });

  it('a message whose expires_at passes while the provider refuses ends expired, never sent', async () => {
    const phone = uniquePhone();
    await stack.faults({ script: Array.from({ length: 5 }, () => ({ code: 131000, to: phone })) });
    const res = await send(stack, reminder(phone, { expires_at: new Date(Date.now() + 500).toISOString() }));
    expect(res.status).toBe(202);
    await waitFor(async () => (await statusOf(res.body.id)) === 'expired', { what: 'expired' });
    const sim = await simFor(stack, phone);
    expect(sim.messages).toHaveLength(0);
    const { body } = await getMessage(stack, res.body.id);
    expect(body.sent_at).toBeNull();
    expect(body.events.at(-1).status).toBe('expired');
    await stack.faults({});
  });
});

describe('retries and provider errors', () => {
  it('a 500 then success: sent on attempt 2, both attempts in the timeline', async () => {
    const phone = uniquePhone();
    await stack.faults({ script: [{ code: 131000, to: phone }] });
    const res = await send(stack, reminder(phone));
    expect(res.status).toBe(202); // the first attempt failed and will be retried
    await waitFor(async () => ['sent', 'delivered', 'read'].includes(await statusOf(res.body.id)), { what: 'sent' });
    const { body } = await getMessage(stack, res.body.id);
    expect(body.attempts).toBe(2);
    const attempts = body.events.filter((e: { source: string }) => e.source === 'worker');
    expect(attempts.map((e: { status: string; attempt: number }) => [e.status, e.attempt])).toEqual([
      ['attempt_failed', 1],
      ['sent', 2],
    ]);
    expect(attempts[0].detail).toContain('131000');
    const sim = await simFor(stack, phone);
    expect(sim.requests.map((r) => r.outcome)).toEqual(['error:131000', 'accepted']);
  });

  it('a permanent error (131026) fails after one attempt with the provider code kept', async () => {
    const phone = uniquePhone();
    await stack.faults({ script: [{ code: 131026, to: phone }] });
    const res = await send(stack, reminder(phone));
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('failed');
    const { body } = await getMessage(stack, res.body.id);
    expect(body.attempts).toBe(1);
    expect(body.error).toMatchObject({ code: '131026', retryable: false });
    expect(body.failed_at).not.toBeNull();
    await new Promise((r) => setTimeout(r, 800)); // longer than any retry backoff here
    expect((await simFor(stack, phone)).requests).toHaveLength(1);
  });

  it('130429 (HTTP 400, no Retry-After) pauses its sender by the default back-off without using an attempt', async () => {
    const phone = uniquePhone();
    await stack.faults({ script: [{ code: 130429, to: phone }] });
    const started = Date.now();
    const res = await send(stack, reminder(phone));
    expect(res.status).toBe(202);
    await waitFor(async () => ['sent', 'delivered', 'read'].includes(await statusOf(res.body.id)), { what: 'sent' });
    const { body } = await getMessage(stack, res.body.id);
    expect(body.attempts).toBe(1);
    expect(body.events.some((e: { status: string; detail: string }) => e.status === 'throttled' && e.detail.includes('1000 ms'))).toBe(
      true,
    );
    expect(new Date(body.sent_at).getTime() - started).toBeGreaterThanOrEqual(950);
    const sim = await simFor(stack, phone);
    expect(sim.requests.map((r) => [r.outcome, r.http_status])).toEqual([
      ['error:130429', 400],
      ['accepted', 200],
    ]);
  });
});

describe('idempotency', () => {
  it('the same key twice gives one id and one send; another body with it is 409', async () => {
    const phone = uniquePhone();
    const body = reminder(phone, { idempotency_key: `order_${phone}:reminder` });
    const first = await send(stack, body);
    const second = await send(stack, body);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    const other = await send(stack, { ...body, context: { customer_name: 'Ravi', delivery_date: '2026-02-02' } });
    expect(other.status).toBe(409);
    expect(other.body.error).toBe('conflict');
    await new Promise((r) => setTimeout(r, 300));
    expect((await simFor(stack, phone)).messages).toHaveLength(1);
  });

  it('the Idempotency-Key header works like the field, and the two may not disagree', async () => {
    const phone = uniquePhone();
    const key = `hdr_${phone}`;
    const a = await send(stack, reminder(phone, { immediate: false }), { headers: { 'idempotency-key': key } });
    const b = await send(stack, reminder(phone, { immediate: false, idempotency_key: key }));
    expect(b.body.id).toBe(a.body.id);
    const c = await send(stack, reminder(phone, { idempotency_key: 'other' }), { headers: { 'idempotency-key': key } });
    expect(c.status).toBe(400);
    expect(c.body.issues[0].path).toBe('idempotency_key');
  });

  it('keys are per tenant', async () => {
    const phone = uniquePhone();
    const body = reminder(phone, { immediate: false, idempotency_key: `t_${phone}` });
    const a = await send(stack, body, { tenant: 'acme' });
    const b = await send(stack, body, { tenant: 'globex' });
    expect(a.body.id).not.toBe(b.body.id);
  });
});
