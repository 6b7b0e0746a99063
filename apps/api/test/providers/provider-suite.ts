import { randomUUID } from 'node:crypto';
import { webhookRequests } from '@herald/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getMessage, metaWebhook, optOutApplied, reminder, send, simFor } from '../helpers.ts';
import { type Stack, startStack, testSecrets, uniquePhone, waitFor } from '../stack.ts';

type Provider = 'meta' | 'twilio' | 'myoperator';

/** What differs per provider in the shared suite: its error codes and its webhook bodies. */
interface ProviderCase {
  provider: Provider;
  /** A retryable send error (simulator fault code) and the code Herald records for it. */
  retryable: { fault: number; code: string };
  permanent: { fault: number; code: string };
  /** A status webhook body for provider id `id`, as `/_sim/webhook` posts it. */
  statusBody(id: string, status: 'delivered' | 'read'): string;
  /** Delivery failure by webhook: fault code and the code Herald records. */
  undelivered: { fault: number; code: string };
}

const now = () => Math.floor(Date.now() / 1000);

export const cases: Record<Provider, ProviderCase> = {
  meta: {
    provider: 'meta',
    retryable: { fault: 131000, code: '131000' },
    permanent: { fault: 131026, code: '131026' },
    undelivered: { fault: 131026, code: '131026' },
    statusBody: (id, status) => metaWebhook({ statuses: [{ id, status, timestamp: String(now()), recipient_id: '919876543210' }] }),
  },
  twilio: {
    provider: 'twilio',
    retryable: { fault: 20500, code: '20500' },
    permanent: { fault: 21211, code: '21211' },
    undelivered: { fault: 63016, code: '63016' },
    statusBody: (id, status) =>
      new URLSearchParams({
        AccountSid: testSecrets.TWILIO_ACCOUNT_SID,
        MessageSid: id,
        MessageStatus: status,
        To: 'whatsapp:+919876543210',
      }).toString(),
  },
  myoperator: {
    provider: 'myoperator',
    retryable: { fault: 500, code: 'http_500' },
    permanent: { fault: 302, code: 'CHAT_0302' },
    undelivered: { fault: 302, code: 'CHAT_0302' },
    statusBody: (id, status) =>
      JSON.stringify({
        event_id: randomUUID(),
        company_id: testSecrets.MYOPERATOR_COMPANY_ID,
        event_type: 'whatsapp.message.status',
        event_sequence: 2,
        timestamp: now(),
        channel: 'whatsapp',
        direction: 'outbound',
        system_identifier: id,
        customer_identifier: '919876543210',
        payload: { myop_ref_id: id, status },
      }),
  },
};

interface Detail {
  status: string;
  attempts: number;
  provider: string;
  provider_message_id: string | null;
  delivered_at: string | null;
  read_at: string | null;
  error: { code: string; message: string } | null;
  events: { status: string; source: string; detail: string | null }[];
}

/**
 * The behaviour every provider must show, over real HTTP against the simulator speaking that
 * provider: one file per provider runs it, so the three run in parallel.
 */
export function providerSuite(c: ProviderCase): void {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ provider: c.provider });
  });
  afterAll(() => stack?.close());

  const detail = async (id: string) => (await getMessage(stack, id)).body as Detail;
  const until = (id: string, test: (d: Detail) => boolean, what: string) =>
    waitFor(
      async () => {
        const d = await detail(id);
        return test(d) ? d : undefined;
      },
      { timeoutMs: 20_000, what },
    );
  const webhookEvents = (d: Detail) => d.events.filter((e) => e.source === 'webhook');
  const faults = (f: object) => stack.faults(f);
  const postWebhook = async (body: string, signature: 'valid' | 'invalid' | 'none') => {
    const res = await fetch(`${stack.sim.url}/_sim/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ provider: c.provider, body, signature }),
    });
    return ((await res.json()) as { herald: { status: number; body: { received?: number } } }).herald;
  };
  const inbound = async (from: string, text: string) => {
    const res = await fetch(`${stack.sim.url}/_sim/inbound`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from, text, provider: c.provider }),
    });
    expect(((await res.json()) as { herald: { status: number } }).herald.status).toBe(200);
  };
  const counted = async (outcome: string) =>
    (await webhookRequests.get()).values.find((v) => v.labels.provider === c.provider && v.labels.outcome === outcome)?.value ?? 0;

  describe(`${c.provider}: sending`, () => {
    it('a message is sent through the provider and followed to read', async () => {
      await faults({});
      const phone = uniquePhone();
      const res = await send(stack, reminder(phone));
      expect(res.body.status).toBe('sent');
      expect(res.body.provider).toBe(c.provider);
      const d = await until(res.body.id, (m) => m.status === 'read', 'read');
      expect(d.attempts).toBe(1);
      expect(d.delivered_at).not.toBeNull();
      expect(d.read_at).not.toBeNull();
      const sim = await simFor(stack, phone);
      expect(sim.messages).toHaveLength(1);
      expect(sim.messages[0]?.text).toContain('Asha');
    });

    it(`a retryable error (${c.retryable.fault}) is retried: sent on the second attempt, the provider's code on the event`, async () => {
      const phone = uniquePhone();
      await faults({ script: [{ to: phone, code: c.retryable.fault }], webhooks: { statuses: [] } });
      const res = await send(stack, reminder(phone, { immediate: false }));
      const d = await until(res.body.id, (m) => m.status === 'sent', 'sent after a retry');
      expect(d.attempts).toBe(2);
      const failed = d.events.find((e) => e.status === 'attempt_failed');
      expect(failed?.detail).toContain(c.retryable.code);
      expect((await simFor(stack, phone)).requests.map((r) => r.outcome)).toEqual([`error:${c.retryable.fault}`, 'accepted']);
    });

    it(`a permanent error (${c.permanent.fault}) fails at once after one attempt`, async () => {
      const phone = uniquePhone();
      await faults({ script: [{ to: phone, code: c.permanent.fault }], webhooks: { statuses: [] } });
      const res = await send(stack, reminder(phone));
      const d = await until(res.body.id, (m) => m.status === 'failed', 'failed');
      expect(d.attempts).toBe(1);
      expect(d.error?.code).toBe(c.permanent.code);
      await new Promise((r) => setTimeout(r, 500));
      expect((await simFor(stack, phone)).requests).toHaveLength(1);
    });

    it('a throttling answer (429 + Retry-After) pauses and does not use an attempt', async () => {
      const phone = uniquePhone();
      await faults({ script: [{ to: phone, http_429: true, retry_after_s: 1 }], webhooks: { statuses: [] } });
      const res = await send(stack, reminder(phone, { immediate: false }));
      const d = await until(res.body.id, (m) => m.status === 'sent', 'sent after the pause');
      expect(d.attempts).toBe(1);
      expect(d.events.some((e) => e.status === 'throttled' && e.detail?.includes('1000 ms'))).toBe(true);
      expect((await simFor(stack, phone)).requests.map((r) => r.outcome)).toEqual(['429', 'accepted']);
    });

    it('a delivery failure reported by webhook ends failed with the reason', async () => {
      const phone = uniquePhone();
      await faults({ webhooks: { fail: { code: c.undelivered.fault, rate: 1 } } });
      const res = await send(stack, reminder(phone));
      const d = await until(res.body.id, (m) => m.status === 'failed', 'failed by webhook');
      expect(d.error?.code).toBe(c.undelivered.code);
      await faults({});
    });
  });

  describe(`${c.provider}: webhooks`, () => {
    it('a good signature is applied; bad, missing and replayed ones change nothing and are counted', async () => {
      await faults({ webhooks: { statuses: [] } });
      const res = await send(stack, reminder(uniquePhone()));
      expect(res.body.status).toBe('sent');
      const body = c.statusBody(res.body.provider_message_id, 'delivered');
      const [bad0, unsigned0, replayed0] = [await counted('bad_signature'), await counted('unsigned'), await counted('replayed')];

      expect((await postWebhook(body, 'invalid')).status).toBe(401);
      expect((await postWebhook(body, 'none')).status).toBe(401);
      await new Promise((r) => setTimeout(r, 300));
      expect((await detail(res.body.id)).status).toBe('sent');
      expect(await counted('bad_signature')).toBe(bad0 + 1);
      expect(await counted('unsigned')).toBe(unsigned0 + 1);

      expect((await postWebhook(body, 'valid')).status).toBe(200);
      const delivered = await until(res.body.id, (m) => m.status === 'delivered', 'delivered');
      const replay = await postWebhook(body, 'valid');
      expect(replay.status).toBe(200);
      expect(replay.body.received).toBe(0);
      expect(await counted('replayed')).toBe(replayed0 + 1);
      await new Promise((r) => setTimeout(r, 300));
      expect((await detail(res.body.id)).events).toEqual(delivered.events);
      await faults({});
    });

    it('duplicated and reordered webhooks end read with one event per status', async () => {
      await faults({ webhooks: { duplicate_rate: 1, reorder: true } });
      const phone = uniquePhone();
      const res = await send(stack, reminder(phone));
      await until(res.body.id, (m) => m.status === 'read', 'read');
      // Every copy of every webhook answered by Herald.
      await waitFor(
        async () => {
          const sim = await fetch(`${stack.sim.url}/_sim/messages?to=${encodeURIComponent(phone)}`);
          const m = ((await sim.json()) as { messages: { webhooks: { delivered: boolean }[] }[] }).messages[0];
          return m && m.webhooks.length === 6 && m.webhooks.every((w) => w.delivered);
        },
        { timeoutMs: 20_000, what: 'all six webhooks answered' },
      );
      await new Promise((r) => setTimeout(r, 500));
      const d = await detail(res.body.id);
      expect(d.status).toBe('read');
      expect(
        webhookEvents(d)
          .map((e) => e.status)
          .sort(),
      ).toEqual(['delivered', 'read', 'sent']);
      expect(d.delivered_at).not.toBeNull();
      await faults({});
    });
  });

  describe(`${c.provider}: opt-out by inbound message`, () => {
    it('STOP then a send ends suppressed without calling the provider; START sends again', async () => {
      await faults({});
      const phone = uniquePhone();
      await optOutApplied(stack, phone, true, () => inbound(phone, ' stop '));
      const setting = await stack.store.settings.get(phone);
      expect(setting?.source).toBe(`${c.provider}:inbound`);
      const suppressed = await send(stack, reminder(phone));
      expect(suppressed.body.status).toBe('suppressed');
      await new Promise((r) => setTimeout(r, 300));
      expect((await simFor(stack, phone)).requests).toHaveLength(0);

      await optOutApplied(stack, phone, false, () => inbound(phone, 'START'));
      const sent = await send(stack, reminder(phone));
      expect(sent.body.status).toBe('sent');
    });
  });
}
