import { afterAll, describe, expect, it } from 'vitest';
import { metaSign, metaWebhook } from './helpers.ts';
import { metric, parseMetrics, type Stack, startStack, testSecrets } from './stack.ts';

// A webhook route of a provider whose secret is not configured answers 404: a 5xx would ask the
// provider to retry (Meta for days) what this Herald can never take.

const stacks: Stack[] = [];
afterAll(() => Promise.all(stacks.map((s) => s.close())));

async function webhookCounts(stack: Stack, provider: string) {
  const res = await stack.api.inject({ method: 'GET', url: '/metrics' });
  return metric(parseMetrics(res.body), 'herald_webhook_requests_total', { provider, outcome: 'not_configured' });
}

const requests = {
  meta: () => {
    const raw = metaWebhook({ statuses: [{ id: 'wamid.X', status: 'read', timestamp: '1' }] });
    return {
      url: '/api/v1/whatsapp/webhook',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': metaSign(raw) },
      payload: raw,
    };
  },
  twilio: () => ({
    url: '/api/v1/twilio/status',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'c2lnbmVk' },
    payload: 'MessageSid=SM1&MessageStatus=delivered',
  }),
  myoperator: () => ({
    url: '/api/v1/myoperator/webhook',
    headers: { 'content-type': 'application/json', 'x-myoperator-secret': testSecrets.MYOPERATOR_WEBHOOK_SECRET },
    payload: JSON.stringify({ event_id: 'e1', event_type: 'whatsapp.message.status', payload: { status: 'read', myop_ref_id: 'm' } }),
  }),
};

describe('a webhook of a provider that is not configured', () => {
  for (const [provider, secret, sender] of [
    ['meta', 'META_APP_SECRET', 'twilio'],
    ['twilio', 'TWILIO_AUTH_TOKEN', 'meta'],
    ['myoperator', 'MYOPERATOR_WEBHOOK_SECRET', 'meta'],
  ] as const) {
    it(`${provider} (no ${secret}) answers 404 naming the variable, and is counted`, async () => {
      const stack = await startStack({ provider: sender, worker: false, env: { [secret]: '' } });
      stacks.push(stack);
      const before = await webhookCounts(stack, provider);
      const res = await stack.api.inject({ method: 'POST', ...requests[provider]() });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ error: 'not_found', message: expect.stringContaining(`${secret} is not set`) });
      expect((await webhookCounts(stack, provider)) - before).toBe(1);
    });
  }

  it('a configured provider beside it still takes its webhooks', async () => {
    const stack = stacks[0] as Stack; // Meta unconfigured, Twilio sending
    const res = await stack.api.inject({ method: 'POST', ...requests.myoperator() });
    expect(res.statusCode).toBe(200);
  });
});
