import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createRedis, parseConfig, ServiceWindows, serviceWindowMs, windowEnforced } from '@herald/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getMessage, reminder, send } from './helpers.ts';
import { type Stack, startStack, testSecrets, uniquePhone, waitFor } from './stack.ts';

// The 24-hour customer-service window (issue 13, item 5; SPEC 8): inbound messages from the
// simulator open it, free-form text outside it is refused at accept, a prefer_text_in_window
// template goes as text inside and as its provider template outside. The simulator enforces the
// window too (131047 / 63016), so a message Herald let through outside it would fail visibly.

interface SimMessage {
  id: string;
  to: string;
  type: string;
  text: string | null;
  template: { name?: string; content_sid?: string } | null;
}
interface TimelineEvent {
  status: string;
  detail: string | null;
}

async function simInbound(stack: Stack, body: Record<string, unknown>) {
  const res = await fetch(`${stack.sim.url}/_sim/inbound`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: 'hello', ...body }),
  });
  expect(res.status).toBe(200);
  const answer = (await res.json()) as { herald: { status: number } };
  expect(answer.herald.status).toBe(200);
}

async function simMessages(stack: Stack, phone: string): Promise<{ messages: SimMessage[]; requests: { outcome: string }[] }> {
  const res = await fetch(`${stack.sim.url}/_sim/messages?to=${encodeURIComponent(phone)}`);
  return (await res.json()) as { messages: SimMessage[]; requests: { outcome: string }[] };
}

async function enforceInSimulator(stack: Stack) {
  const res = await fetch(`${stack.sim.url}/_sim/service-window`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ enforce: true }),
  });
  expect(res.status).toBe(200);
}

async function putTemplate(stack: Stack, type: string, body: Record<string, unknown>) {
  const res = await stack.api.inject({
    method: 'PUT',
    url: `/api/notifications/templates/${type}`,
    headers: { authorization: `Bearer ${stack.token('admin')}` },
    payload: body,
  });
  return { status: res.statusCode, body: res.json() };
}

/** Waits for the message to be sent (or delivered, or read) or `failed`, and returns its timeline. */
async function finished(stack: Stack, id: string, status: 'sent' | 'failed' = 'sent') {
  const done = status === 'sent' ? ['sent', 'delivered', 'read'] : [status];
  return waitFor(
    async () => {
      const res = await getMessage(stack, id);
      return res.status === 200 && done.includes(res.body.status) ? (res.body as { events: TimelineEvent[]; error: unknown }) : undefined;
    },
    { what: `message ${id} to be ${status}` },
  );
}

describe('the 24-hour window through Meta', () => {
  let stack: Stack;
  let windows: ServiceWindows;
  let redis: ReturnType<typeof createRedis>;

  beforeAll(async () => {
    stack = await startStack({ env: { SERVICE_WINDOW_PROVIDERS: 'meta,twilio' }, webhookDelaysMs: { sent: 10, delivered: 20, read: 30 } });
    await enforceInSimulator(stack);
    redis = createRedis(stack.config);
    windows = new ServiceWindows(redis, stack.config.QUEUE_PREFIX);
  });
  afterAll(async () => {
    await redis?.quit();
    await stack?.close();
  });

  /** The recipient writes (through the simulator) and Herald's worker records it. */
  async function recipientWrites(phone: string, timestamp?: number) {
    await simInbound(stack, { from: phone, ...(timestamp ? { timestamp } : {}) });
    if (timestamp && timestamp * 1000 + serviceWindowMs < Date.now()) return;
    await waitFor(async () => (await windows.state('env', phone)).open, { what: 'the window to open' });
  }

  it('an inbound message opens the window: free-form text is accepted and sent as text', async () => {
    const phone = uniquePhone();
    await recipientWrites(phone);
    const res = await send(stack, reminder(phone, { immediate: true }));
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('sent');
    const sim = await simMessages(stack, phone);
    expect(sim.messages.map((m) => m.type)).toEqual(['text']);
    expect(sim.messages[0]?.text).toContain('Hi Asha');
    const { events } = await finished(stack, res.body.id);
    expect(events.find((e) => e.status === 'sent')?.detail).toMatch(/sent as text: inside the 24 h window until \d{4}-/);
  });

  it('a recipient who never wrote: 409 outside_service_window, and nothing reaches the provider', async () => {
    const phone = uniquePhone();
    const res = await send(stack, reminder(phone));
    expect(res.status).toBe(409);
    expect(res.body.error).toBe('outside_service_window');
    expect(res.body.message).toContain('has not written in the last 24 h');
    expect(res.body.message).toContain('delivery_reminder');
    expect((await simMessages(stack, phone)).requests).toEqual([]);
  });

  it("the window runs 24 h from the provider's timestamp: a 25 h old message opens nothing, a 23 h old one closes an hour on", async () => {
    const stale = uniquePhone();
    await recipientWrites(stale, Math.floor(Date.now() / 1000) - 25 * 3600);
    // The webhook was answered once queued: when the status and inbound queues are empty, it is applied.
    await waitFor(
      async () => {
        const counts = await Promise.all(
          [stack.queues.status, stack.queues.inbound].map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'prioritized')),
        );
        return counts.every((c) => Object.values(c).every((n) => n === 0));
      },
      { what: 'the inbound message to be applied' },
    );
    const refused = await send(stack, reminder(stale));
    expect(refused.status).toBe(409);
    expect(refused.body.message).toContain('has not written in the last 24 h');

    const recent = uniquePhone();
    const wroteAt = Math.floor(Date.now() / 1000) - 23 * 3600;
    await recipientWrites(recent, wroteAt);
    const closesAt = new Date(wroteAt * 1000 + serviceWindowMs).toISOString();
    // Due now: inside. Due in two hours: the window closes first, and the 409 says when.
    const now = await send(stack, reminder(recent));
    expect(now.status).toBe(200);
    expect(now.body.status).toBe('sent');
    const later = await send(stack, reminder(recent, { send_at: new Date(Date.now() + 2 * 3600_000).toISOString() }));
    expect(later.status).toBe(409);
    expect(later.body.error).toBe('outside_service_window');
    expect(later.body.message).toContain(`closes at ${closesAt}`);
  });

  it('a message accepted inside the window that closes before it is sent fails naming the window, without a provider round trip', async () => {
    const phone = uniquePhone();
    // The window closes about 3 s from now.
    await recipientWrites(phone, Math.floor((Date.now() - serviceWindowMs) / 1000) + 3);
    await stack.queues.send.pause();
    try {
      const res = await send(stack, reminder(phone));
      expect(res.status).toBe(202);
      await waitFor(async () => !(await windows.state('env', phone)).open, { what: 'the window to close', timeoutMs: 6000 });
      await stack.queues.send.resume();
      const failed = await finished(stack, res.body.id, 'failed');
      expect(failed.error).toMatchObject({ code: 'outside_service_window' });
      expect((failed.error as { message: string }).message).toContain('closed at');
      expect((await simMessages(stack, phone)).requests).toEqual([]);
    } finally {
      await stack.queues.send.resume();
    }
  });

  it('prefer_text_in_window: its text inside the window, its approved Meta template outside, on the timeline', async () => {
    const saved = await putTemplate(stack, 'window_order', {
      content: 'Order {{order_id}} confirmed for {{customer_name}}.',
      providers: { meta: { name: 'order_confirmation', language: 'en_US', params: ['order_id', 'customer_name'] } },
      prefer_text_in_window: true,
    });
    expect(saved.status).toBe(201);
    expect(saved.body.prefer_text_in_window).toBe(true);
    const context = { order_id: 'ORD-7', customer_name: 'Asha' };

    const inside = uniquePhone();
    await recipientWrites(inside);
    const a = await send(stack, { phone: inside, message_type: 'window_order', context, immediate: true });
    expect(a.status).toBe(200);
    const outside = uniquePhone();
    const b = await send(stack, { phone: outside, message_type: 'window_order', context, immediate: true });
    expect(b.status).toBe(200);

    const simInside = (await simMessages(stack, inside)).messages;
    expect(simInside.map((m) => [m.type, m.text])).toEqual([['text', 'Order ORD-7 confirmed for Asha.']]);
    const simOutside = (await simMessages(stack, outside)).messages;
    expect(simOutside.map((m) => [m.type, m.template?.name])).toEqual([['template', 'order_confirmation']]);

    const sentA = (await finished(stack, a.body.id)).events.find((e) => e.status === 'sent');
    expect(sentA?.detail).toMatch(/sent as text: inside the 24 h window until/);
    const sentB = (await finished(stack, b.body.id)).events.find((e) => e.status === 'sent');
    expect(sentB?.detail).toMatch(/sent as template: outside the 24 h window \(the recipient has not written/);
  });

  it('a template with a mapping and no flag always goes as the provider template', async () => {
    await putTemplate(stack, 'window_mapped', {
      content: 'Order {{order_id}} confirmed.',
      providers: { meta: { name: 'order_confirmation', language: 'en_US', params: ['order_id'] } },
    });
    const phone = uniquePhone();
    await recipientWrites(phone);
    const res = await send(stack, { phone, message_type: 'window_mapped', context: { order_id: 'X1' }, immediate: true });
    expect(res.status).toBe(200);
    expect((await simMessages(stack, phone)).messages.map((m) => m.type)).toEqual(['template']);
  });

  it('prefer_text_in_window needs a provider mapping: 400 naming the field', async () => {
    const res = await putTemplate(stack, 'window_bad', { content: 'Hello {{customer_name}}', prefer_text_in_window: true });
    expect(res.status).toBe(400);
    expect(res.body.issues[0].path).toBe('prefer_text_in_window');
    const wrongType = await putTemplate(stack, 'window_bad', { content: 'Hello', prefer_text_in_window: 'yes' });
    expect(wrongType.status).toBe(400);
  });

  it('send-bulk refuses per item', async () => {
    const wrote = uniquePhone();
    const never = uniquePhone();
    await recipientWrites(wrote);
    const res = await stack.api.inject({
      method: 'POST',
      url: '/api/notifications/send-bulk',
      headers: { authorization: `Bearer ${stack.token('service')}` },
      payload: { messages: [reminder(wrote), reminder(never)] },
    });
    expect(res.statusCode).toBe(207);
    const [first, second] = res.json().results;
    expect(first).toMatchObject({ index: 0, status: 'queued' });
    expect(second).toMatchObject({ index: 1, error: 'outside_service_window' });
    expect(second.message).toContain('has not written');
  });
});

describe('the 24-hour window through Twilio', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ provider: 'twilio', env: { SERVICE_WINDOW_PROVIDERS: 'meta,twilio' } });
    await enforceInSimulator(stack);
  });
  afterAll(() => stack?.close());

  it('an inbound message (timed when Herald receives it: Twilio sends no timestamp) opens it; a prefer_text template goes by ContentSid outside', async () => {
    const never = uniquePhone();
    expect((await send(stack, reminder(never))).status).toBe(409);

    const phone = uniquePhone();
    await simInbound(stack, { from: phone, provider: 'twilio' });
    await waitFor(async () => (await send(stack, reminder(phone, { immediate: true }))).status === 200, { what: 'the window to open' });
    expect((await simMessages(stack, phone)).messages.map((m) => m.type)).toEqual(['text']);

    await putTemplate(stack, 'window_twilio', {
      content: 'Order {{order_id}} confirmed.',
      providers: { twilio: { content_sid: `HX${'a'.repeat(32)}`, variables: { '1': 'order_id' } } },
      prefer_text_in_window: true,
    });
    const res = await send(stack, { phone: never, message_type: 'window_twilio', context: { order_id: 'T1' }, immediate: true });
    expect(res.status).toBe(200);
    expect((await simMessages(stack, never)).messages.map((m) => [m.type, m.template?.content_sid])).toEqual([
      ['template', `HX${'a'.repeat(32)}`],
    ]);
  });
});

describe('MyOperator', () => {
  it('does not enforce the window unless SERVICE_WINDOW_PROVIDERS names it', () => {
    const config = parseConfig({ ...testSecrets });
    expect(config.SERVICE_WINDOW_PROVIDERS).toEqual(['meta', 'twilio']);
    expect(windowEnforced(config, 'myoperator')).toBe(false);
    expect(windowEnforced(parseConfig({ ...testSecrets, SERVICE_WINDOW_PROVIDERS: 'meta,myoperator' }), 'myoperator')).toBe(true);
    expect(parseConfig({ ...testSecrets, SERVICE_WINDOW_PROVIDERS: 'none' }).SERVICE_WINDOW_PROVIDERS).toEqual([]);
    expect(() => parseConfig({ ...testSecrets, SERVICE_WINDOW_PROVIDERS: 'meta,whatsapp' })).toThrow(/SERVICE_WINDOW_PROVIDERS/);
  });

  it('with the default setting, free-form text to a number that never wrote is accepted and sent', async () => {
    const stack = await startStack({ provider: 'myoperator', env: { SERVICE_WINDOW_PROVIDERS: 'meta,twilio' } });
    try {
      const phone = uniquePhone();
      const res = await send(stack, reminder(phone, { immediate: true }));
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('sent');
    } finally {
      await stack.close();
    }
  });
});

describe('quick start (SPEC 8)', () => {
  it("maps the default templates to the simulator's approved Meta templates, never over an admin's mapping, so any number can be messaged", async () => {
    const stack = await startStack({ env: { SERVICE_WINDOW_PROVIDERS: 'meta,twilio' } });
    try {
      await enforceInSimulator(stack);
      const adminMapping = { name: 'my_own_alert', language: 'en', params: ['alert_message'] };
      expect((await putTemplate(stack, 'system_alert', { content: '⚠️ {{alert_message}}', providers: { meta: adminMapping } })).status).toBe(
        200,
      );

      const script = new URL('../../../scripts/quickstart-mappings.ts', import.meta.url).pathname;
      // Not spawnSync: the API answering the script runs in this process.
      const run = await promisify(execFile)(process.execPath, [script, stack.apiUrl, stack.token('admin')], { encoding: 'utf8' });
      expect(run.stderr).toBe('');
      expect(run.stdout).toContain('10 default template(s) mapped');

      const list = await stack.api.inject({
        url: '/api/notifications/templates',
        headers: { authorization: `Bearer ${stack.token('viewer')}` },
      });
      const byType = new Map((list.json().items as { type: string; providers: { meta?: unknown } }[]).map((t) => [t.type, t.providers]));
      expect(byType.get('system_alert')?.meta).toEqual(adminMapping);
      expect(byType.get('delivery_reminder')?.meta).toEqual({
        name: 'delivery_reminder',
        language: 'en_US',
        params: ['customer_name', 'brand_name', 'delivery_date'],
      });

      // A number that never wrote gets the approved template.
      const phone = uniquePhone();
      const res = await send(stack, reminder(phone));
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('sent');
      expect((await simMessages(stack, phone)).messages.map((m) => [m.type, m.template?.name])).toEqual([
        ['template', 'delivery_reminder'],
      ]);

      // A second run maps nothing.
      const again = await promisify(execFile)(process.execPath, [script, stack.apiUrl, stack.token('admin')], { encoding: 'utf8' });
      expect(again.stdout).toContain('0 default template(s) mapped');
    } finally {
      await stack.close();
    }
  });
});
