import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type RunningSimulator, startSimulator } from '@herald/simulator';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  MetaCloudApi,
  type MetaOptions,
  MetaWebhooks,
  type OutgoingMessage,
  ProviderError,
  parseMetaWebhook,
  type WebhookRequest,
} from '../src/index.ts';

const ACCESS_TOKEN = 'shared-test-meta-token';
const APP_SECRET = 'shared-test-meta-app-secret';
const PHONE_NUMBER_ID = '106540352242922';
const WEBHOOK_PATH = '/api/v1/whatsapp/webhook';

interface ReceivedWebhook {
  raw: Buffer;
  headers: IncomingHttpHeaders;
}

/** Stands in for Herald's webhook route: keeps the raw bytes and headers of every POST. */
interface WebhookSink {
  url: string;
  received: ReceivedWebhook[];
  close(): Promise<void>;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

async function startSink(): Promise<WebhookSink> {
  const received: ReceivedWebhook[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ raw: Buffer.concat(chunks), headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return { url: await listen(server), received, close: () => closeServer(server) };
}

/** A one-off HTTP server answering every request the same way, for answers the simulator does not give. */
async function startFixedServer(
  status: number,
  headers: Record<string, string>,
  body: string,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(status, headers).end(body));
  });
  return { url: await listen(server), close: () => closeServer(server) };
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let sim: RunningSimulator;
let sink: WebhookSink;

const adapter = (overrides: Partial<MetaOptions> = {}) =>
  new MetaCloudApi({
    baseUrl: sim.url,
    apiVersion: 'v24.0',
    phoneNumberId: PHONE_NUMBER_ID,
    accessToken: ACCESS_TOKEN,
    appSecret: APP_SECRET,
    timeoutMs: 5000,
    ...overrides,
  });

async function setFaults(faults: unknown): Promise<void> {
  const res = await fetch(`${sim.url}/_sim/faults`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(faults),
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

interface SimMessage {
  id: string;
  to: string;
  type: string;
  text: string | null;
  template: {
    name: string;
    language: { code: string };
    components?: Array<{ type: string; parameters?: Array<{ type: string; text?: string }> }>;
  } | null;
}

async function simMessages(): Promise<SimMessage[]> {
  const res = await fetch(`${sim.url}/_sim/messages`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { messages: SimMessage[] }).messages;
}

async function sendError(api: MetaCloudApi, message: OutgoingMessage): Promise<ProviderError> {
  try {
    await api.send(message);
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderError);
    return err as ProviderError;
  }
  throw new Error('expected the send to fail');
}

const textMessage = (text = 'Hello from Herald', to = '+919876543210'): OutgoingMessage => ({ id: 'msg_TEST', to, text });

beforeAll(async () => {
  sink = await startSink();
  sim = await startSimulator({
    meta: { accessToken: ACCESS_TOKEN, appSecret: APP_SECRET, phoneNumberId: PHONE_NUMBER_ID, webhookPath: WEBHOOK_PATH },
    webhookBaseUrl: sink.url,
    webhookDelaysMs: { sent: 10, delivered: 20, read: 30 },
  });
});

afterAll(async () => {
  await sim?.close();
  await sink?.close();
});

beforeEach(async () => {
  const res = await fetch(`${sim.url}/_sim/reset`, { method: 'POST' });
  expect(res.status).toBe(200);
  sink.received.length = 0;
});

describe('MetaCloudApi.send against the simulator', () => {
  it('returns the wamid the provider assigned', async () => {
    const result = await adapter().send(textMessage());
    expect(result.provider_message_id).toMatch(/^wamid\./);
    const [recorded] = await simMessages();
    expect(recorded?.id).toBe(result.provider_message_id);
  });

  it('sends a text message: to with +, type text, the rendered body, no preview', async () => {
    const body = 'Hi Asha & co, ₹450 due "today"\nThanks ✓';
    await adapter().send(textMessage(body));
    const messages = await simMessages();
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ to: '+919876543210', type: 'text', text: body, template: null });
  });

  it('sends a template message when the template has a Meta mapping, parameters in the mapped order', async () => {
    const message: OutgoingMessage = {
      id: 'msg_TEMPLATE',
      to: '+919876543210',
      text: 'Order #ORD-1 confirmed. Delivery on 2026-02-01, total ₹450.',
      template: {
        type: 'order_confirmation',
        providers: { meta: { name: 'order_confirmation_v2', language: 'en_US', params: ['total_amount', 'order_id', 'delivery_date'] } },
        context: { order_id: 'ORD-1', delivery_date: '2026-02-01', total_amount: 450, unused: 'x' },
      },
    };
    const result = await adapter().send(message);
    expect(result.provider_message_id).toMatch(/^wamid\./);
    const [recorded] = await simMessages();
    expect(recorded?.type).toBe('template');
    expect(recorded?.text).toBeNull();
    expect(recorded?.template?.name).toBe('order_confirmation_v2');
    expect(recorded?.template?.language.code).toBe('en_US');
    const body = recorded?.template?.components?.find((c) => c.type === 'body');
    expect(body?.parameters).toEqual([
      { type: 'text', text: '450' },
      { type: 'text', text: 'ORD-1' },
      { type: 'text', text: '2026-02-01' },
    ]);
  });

  // BUG (packages/shared/src/providers/meta-cloud-api.ts, buildBody: `text: String(ctx[key] ?? '')`):
  // template parameters are taken from the raw context, so control characters that SPEC 4 says
  // are stripped from context values (and that the text path strips in renderer.ts) reach Meta
  // unstripped when the template has a Meta mapping. Sent: 'Asha\u0007\u001b'; expected 'Asha'.
  it('strips control characters from template parameters as rendering does', async () => {
    await adapter().send({
      id: 'msg_CTRL',
      to: '+919876543210',
      text: 'Hi Asha',
      template: {
        type: 'churn_risk',
        providers: { meta: { name: 'churn_risk', language: 'en', params: ['customer_name'] } },
        context: { customer_name: 'Asha\u0007\u001b' },
      },
    });
    const [recorded] = await simMessages();
    const body = recorded?.template?.components?.find((c) => c.type === 'body');
    expect(body?.parameters).toEqual([{ type: 'text', text: 'Asha' }]);
  });

  it('a template without a Meta mapping goes as text', async () => {
    await adapter().send({
      ...textMessage('plain'),
      template: { type: 'system_alert', providers: {}, context: { alert_message: 'plain' } },
    });
    const [recorded] = await simMessages();
    expect(recorded).toMatchObject({ type: 'text', text: 'plain' });
  });

  it('sends the bearer token: a wrong one is 190, permanent', async () => {
    const err = await sendError(adapter({ accessToken: 'wrong-token' }), textMessage());
    expect(err.code).toBe('190');
    expect(err.retryable).toBe(false);
    expect(err.throttled).toBe(false);
    expect(await simMessages()).toHaveLength(0);
  });
});

describe('MetaCloudApi error classification against the simulator', () => {
  it('131000 (something went wrong) is retryable', async () => {
    await setFaults({ script: [{ code: 131000 }] });
    const err = await sendError(adapter(), textMessage());
    expect(err).toMatchObject({ code: '131000', retryable: true, throttled: false, http_status: 500 });
    expect(err.delay_recipient_ms).toBeUndefined();
  });

  it('131026 (undeliverable) is permanent', async () => {
    await setFaults({ script: [{ code: 131026 }] });
    const err = await sendError(adapter(), textMessage());
    expect(err).toMatchObject({ code: '131026', retryable: false, throttled: false });
  });

  it('131047 (outside the 24 h window) is permanent and says a template is needed', async () => {
    await setFaults({ script: [{ code: 131047 }] });
    const err = await sendError(adapter(), textMessage());
    expect(err).toMatchObject({ code: '131047', retryable: false, throttled: false });
    expect(err.message).toMatch(/24 ?h/);
    expect(err.message).toMatch(/template/i);
  });

  it('130429 (throughput limit, HTTP 400 without Retry-After) is throttled with no retry_after', async () => {
    await setFaults({ script: [{ code: 130429 }] });
    const err = await sendError(adapter(), textMessage());
    expect(err).toMatchObject({ code: '130429', retryable: true, throttled: true, http_status: 400 });
    expect(err.retry_after_ms).toBeUndefined();
    expect(err.delay_recipient_ms).toBeUndefined();
  });

  it.each([4, 80007])('%i is throttled too', async (code) => {
    await setFaults({ script: [{ code }] });
    const err = await sendError(adapter(), textMessage());
    expect(err).toMatchObject({ code: String(code), retryable: true, throttled: true });
  });

  it('HTTP 429 with Retry-After: 2 is throttled for 2000 ms', async () => {
    await setFaults({ script: [{ http_429: true, retry_after_s: 2 }] });
    const err = await sendError(adapter(), textMessage());
    expect(err).toMatchObject({ retryable: true, throttled: true, retry_after_ms: 2000, http_status: 429 });
  });

  it('131056 (pair rate limit) delays only the recipient: not throttled, delay set', async () => {
    await setFaults({ script: [{ code: 131056 }] });
    const err = await sendError(adapter(), textMessage());
    expect(err).toMatchObject({ code: '131056', retryable: true, throttled: false });
    expect(err.delay_recipient_ms).toBeGreaterThan(0);
  });

  it('190 (token expired) is permanent and tells the operator what to renew', async () => {
    await setFaults({ script: [{ code: 190 }] });
    const err = await sendError(adapter(), textMessage());
    expect(err).toMatchObject({ code: '190', retryable: false, throttled: false, http_status: 401 });
    expect(err.message).toContain('META_ACCESS_TOKEN');
  });

  it.each([131016, 2, 133004, 131057])('%i (service unavailable / maintenance) is retryable', async (code) => {
    await setFaults({ script: [{ code }] });
    const err = await sendError(adapter(), textMessage());
    expect(err).toMatchObject({ code: String(code), retryable: true, throttled: false });
  });

  it.each([131048, 131049, 131050, 131051, 132000, 132001, 132012, 132015, 132016, 100, 131008, 131009, 0, 10, 200, 368, 131031, 131042])(
    '%i is permanent',
    async (code) => {
      await setFaults({ script: [{ code }] });
      const err = await sendError(adapter(), textMessage());
      expect(err).toMatchObject({ code: String(code), retryable: false, throttled: false });
    },
  );

  it('a request that outlives timeoutMs is a retryable timeout whose outcome is unknown (the request went out)', async () => {
    // The simulator accepts the message but holds its answer for a second.
    await setFaults({ script: [{ timeout: true }], timeout_ms: 1000 });
    const started = Date.now();
    const err = await sendError(adapter({ timeoutMs: 300 }), textMessage());
    expect(Date.now() - started).toBeLessThan(1000);
    expect(err).toMatchObject({ code: 'timeout', retryable: true, throttled: false, outcome_unknown: true });
  });

  it('a provider that refuses the connection is retryable', async () => {
    const closed = await startFixedServer(200, {}, '');
    const url = closed.url;
    await closed.close();
    const err = await sendError(adapter({ baseUrl: url }), textMessage());
    expect(err.retryable).toBe(true);
    expect(err.throttled).toBe(false);
    expect(err.code).toBe('ECONNREFUSED');
    // Never connected: the provider cannot have the message.
    expect(err.outcome_unknown).toBe(false);
  });

  it('a bare HTTP 429 without an error body is throttled and honours Retry-After', async () => {
    const server = await startFixedServer(429, { 'retry-after': '2' }, '');
    try {
      const err = await sendError(adapter({ baseUrl: server.url }), textMessage());
      expect(err).toMatchObject({ code: 'http_429', retryable: true, throttled: true, retry_after_ms: 2000 });
    } finally {
      await server.close();
    }
  });

  it('a 2xx answer without a message id is a retryable bad_response', async () => {
    const server = await startFixedServer(200, { 'content-type': 'application/json' }, '{"messaging_product":"whatsapp","messages":[]}');
    try {
      const err = await sendError(adapter({ baseUrl: server.url }), textMessage());
      expect(err).toMatchObject({ code: 'bad_response', retryable: true });
    } finally {
      await server.close();
    }
  });
});

describe('MetaCloudApi.toError (code first, HTTP status only without a code)', () => {
  const api = () =>
    new MetaCloudApi({ baseUrl: 'http://127.0.0.1:9', apiVersion: 'v24.0', phoneNumberId: PHONE_NUMBER_ID, accessToken: ACCESS_TOKEN });
  const body = (code: number) => ({ error: { message: `(#${code}) x`, code } });

  it('a permanent code stays permanent under HTTP 500, a retryable one stays retryable under 400', () => {
    expect(api().toError(500, body(131026), undefined).retryable).toBe(false);
    expect(api().toError(400, body(131000), undefined).retryable).toBe(true);
  });

  it('131056 delays the recipient whatever its HTTP status, 429 included', () => {
    const err = api().toError(429, body(131056), undefined);
    expect(err.throttled).toBe(false);
    expect(err.delay_recipient_ms).toBeGreaterThan(0);
  });

  it('without a code: 5xx retryable, 429 throttled, other 4xx permanent', () => {
    expect(api().toError(503, 'Service Unavailable', undefined)).toMatchObject({ code: 'http_503', retryable: true, throttled: false });
    expect(api().toError(429, undefined, '7')).toMatchObject({ code: 'http_429', throttled: true, retry_after_ms: 7000 });
    expect(api().toError(404, '<html>', undefined)).toMatchObject({ code: 'http_404', retryable: false });
  });

  it('permission codes 200–299 are permanent', () => {
    expect(api().toError(403, body(294), undefined).retryable).toBe(false);
  });
});

function signed(raw: string | Buffer, secret = APP_SECRET): WebhookRequest {
  const bytes = Buffer.isBuffer(raw) ? raw : Buffer.from(raw, 'utf8');
  return {
    rawBody: bytes,
    url: `https://herald.example${WEBHOOK_PATH}`,
    headers: { 'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(bytes).digest('hex')}` },
  };
}

describe('Meta webhook signature', () => {
  const raw = '{"object":"whatsapp_business_account",  "entry":[ ]}';

  it('a correct signature over the raw bytes passes', () => {
    expect(new MetaWebhooks(APP_SECRET).verifyWebhook(signed(raw))).toBe(true);
    expect(adapter().verifyWebhook(signed(raw))).toBe(true);
  });

  it('a signature with the wrong secret fails', () => {
    expect(new MetaWebhooks(APP_SECRET).verifyWebhook(signed(raw, 'another-secret'))).toBe(false);
  });

  it('a missing or malformed header fails', () => {
    const w = new MetaWebhooks(APP_SECRET);
    expect(w.verifyWebhook({ rawBody: Buffer.from(raw), url: 'https://h', headers: {} })).toBe(false);
    const good = signed(raw).headers['x-hub-signature-256'] as string;
    expect(
      w.verifyWebhook({ rawBody: Buffer.from(raw), url: 'https://h', headers: { 'x-hub-signature-256': good.slice('sha256='.length) } }),
    ).toBe(false);
    expect(w.verifyWebhook({ rawBody: Buffer.from(raw), url: 'https://h', headers: { 'x-hub-signature-256': 'sha256=' } })).toBe(false);
    expect(w.verifyWebhook({ rawBody: Buffer.from(raw), url: 'https://h', headers: { 'x-hub-signature-256': [good] } })).toBe(false);
  });

  it('the same JSON re-serialised fails: the signature is over the bytes', () => {
    const request = signed(raw);
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(raw)));
    expect(reserialised.equals(request.rawBody)).toBe(false);
    expect(new MetaWebhooks(APP_SECRET).verifyWebhook({ ...request, rawBody: reserialised })).toBe(false);
  });

  it('a body with one byte changed fails', () => {
    const request = signed(raw);
    const tampered = Buffer.from(request.rawBody);
    tampered[tampered.length - 2] = 0x20;
    expect(new MetaWebhooks(APP_SECRET).verifyWebhook({ ...request, rawBody: tampered })).toBe(false);
  });

  it('without an app secret nothing verifies', () => {
    expect(new MetaWebhooks(undefined).verifyWebhook(signed(raw))).toBe(false);
    expect(new MetaWebhooks('').verifyWebhook(signed(raw, ''))).toBe(false);
  });

  it('non-ASCII bodies are verified byte for byte', () => {
    const body = '{"text":"₹450 ✓ 🆕"}';
    expect(new MetaWebhooks(APP_SECRET).verifyWebhook(signed(body))).toBe(true);
  });
});

describe('Meta webhooks from the simulator', () => {
  it('status webhooks posted by the simulator verify and parse into sent, delivered, read', async () => {
    const { provider_message_id } = await adapter().send(textMessage());
    const ours = () => sink.received.filter((w) => w.raw.toString().includes(provider_message_id));
    const received = await waitFor('three status webhooks', () => (ours().length >= 3 ? ours() : undefined));
    const webhooks = new MetaWebhooks(APP_SECRET);
    const statuses = received.flatMap((w) => {
      const request: WebhookRequest = { rawBody: w.raw, url: `${sink.url}${WEBHOOK_PATH}`, headers: w.headers };
      expect(webhooks.verifyWebhook(request)).toBe(true);
      expect(new MetaWebhooks('not-the-secret').verifyWebhook(request)).toBe(false);
      return webhooks.parseWebhook(request).statuses;
    });
    expect(statuses.map((s) => s.status).sort()).toEqual(['delivered', 'read', 'sent']);
    for (const s of statuses) {
      expect(s.provider_message_id).toBe(provider_message_id);
      // biz_opaque_callback_data, sent with the message and echoed back: Herald's own id.
      expect(s.herald_id).toBe(textMessage().id);
      expect(s.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(Math.abs(Date.parse(s.at) - Date.now())).toBeLessThan(60_000);
    }
  });

  it('a failed status carries its error code and message', async () => {
    await setFaults({ webhooks: { fail: { code: 131026 } } });
    const { provider_message_id } = await adapter().send(textMessage());
    const received = await waitFor('a failed webhook', () =>
      sink.received.find((w) => parseMetaWebhook(JSON.parse(w.raw.toString())).statuses.some((s) => s.status === 'failed')),
    );
    const [failed] = parseMetaWebhook(JSON.parse(received.raw.toString())).statuses;
    expect(failed).toMatchObject({ provider_message_id, status: 'failed', error: { code: '131026' } });
    expect(failed?.error?.message.length).toBeGreaterThan(0);
  });

  it('an inbound message from the simulator parses with a + on the sender', async () => {
    const res = await fetch(`${sim.url}/_sim/inbound`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from: '919876543210', text: ' STOP ' }),
    });
    expect(res.status).toBe(200);
    const [webhook] = await waitFor('the inbound webhook', () => (sink.received.length > 0 ? sink.received : undefined));
    if (!webhook) throw new Error('no webhook');
    const request: WebhookRequest = { rawBody: webhook.raw, url: `${sink.url}${WEBHOOK_PATH}`, headers: webhook.headers };
    expect(new MetaWebhooks(APP_SECRET).verifyWebhook(request)).toBe(true);
    const parsed = new MetaWebhooks(APP_SECRET).parseWebhook(request);
    expect(parsed.statuses).toEqual([]);
    expect(parsed.inbound).toEqual([
      { from: '+919876543210', text: ' STOP ', at: expect.stringMatching(/Z$/), provider_message_id: expect.stringMatching(/^wamid\./) },
    ]);
  });
});

describe('parseMetaWebhook', () => {
  const envelope = (value: Record<string, unknown>) => ({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: 'WABA',
        changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { phone_number_id: '1' }, ...value } }],
      },
    ],
  });

  it('normalises sent, delivered, read and failed statuses, timestamps to ISO', () => {
    const parsed = parseMetaWebhook(
      envelope({
        statuses: [
          { id: 'wamid.A', status: 'sent', timestamp: '1767225600', recipient_id: '919876543210' },
          { id: 'wamid.A', status: 'delivered', timestamp: '1767225601', recipient_id: '919876543210' },
          { id: 'wamid.A', status: 'read', timestamp: 1767225602, recipient_id: '919876543210' },
          {
            id: 'wamid.B',
            status: 'failed',
            timestamp: '1767225603',
            recipient_id: '919876543210',
            errors: [{ code: 131026, title: 'Message Undeliverable', message: 'Message Undeliverable', error_data: { details: 'x' } }],
          },
        ],
      }),
    );
    expect(parsed.statuses).toEqual([
      // The recipient travels with the event so that an orphan (no message matches it) can be
      // found and erased with the person.
      { provider_message_id: 'wamid.A', status: 'sent', at: '2026-01-01T00:00:00.000Z', recipient: '919876543210' },
      { provider_message_id: 'wamid.A', status: 'delivered', at: '2026-01-01T00:00:01.000Z', recipient: '919876543210' },
      { provider_message_id: 'wamid.A', status: 'read', at: '2026-01-01T00:00:02.000Z', recipient: '919876543210' },
      {
        provider_message_id: 'wamid.B',
        status: 'failed',
        at: '2026-01-01T00:00:03.000Z',
        recipient: '919876543210',
        error: { code: '131026', message: 'Message Undeliverable' },
      },
    ]);
    expect(parsed.inbound).toEqual([]);
  });

  it('normalises inbound text messages: + on the sender, ISO time', () => {
    const parsed = parseMetaWebhook(
      envelope({
        contacts: [{ profile: { name: 'Asha' }, wa_id: '919876543210' }],
        messages: [{ from: '919876543210', id: 'wamid.IN', timestamp: '1767225600', type: 'text', text: { body: 'STOP' } }],
      }),
    );
    expect(parsed.inbound).toEqual([
      { from: '+919876543210', text: 'STOP', at: '2026-01-01T00:00:00.000Z', provider_message_id: 'wamid.IN' },
    ]);
    expect(parsed.statuses).toEqual([]);
  });

  it('ignores unknown statuses and non-text inbound messages', () => {
    const parsed = parseMetaWebhook(
      envelope({
        statuses: [
          { id: 'wamid.A', status: 'deleted', timestamp: '1767225600' },
          { id: 'wamid.A', status: 'warning', timestamp: '1767225600' },
          { id: 'wamid.A', status: 'delivered', timestamp: '1767225600' },
        ],
        messages: [{ from: '919876543210', id: 'wamid.IMG', timestamp: '1767225600', type: 'image', image: { id: 'x' } }],
      }),
    );
    expect(parsed.statuses.map((s) => s.status)).toEqual(['delivered']);
    expect(parsed.inbound).toEqual([]);
  });

  it('collects events from every entry and change of a batch', () => {
    const one = envelope({ statuses: [{ id: 'wamid.1', status: 'sent', timestamp: '1767225600' }] });
    const two = envelope({ statuses: [{ id: 'wamid.2', status: 'read', timestamp: '1767225600' }] });
    const parsed = parseMetaWebhook({ ...one, entry: [...one.entry, ...two.entry] });
    expect(parsed.statuses.map((s) => s.provider_message_id)).toEqual(['wamid.1', 'wamid.2']);
  });

  it('a change without statuses or messages yields nothing', () => {
    expect(parseMetaWebhook(envelope({}))).toEqual({ statuses: [], inbound: [] });
  });

  it.each([
    ['a Twilio form', { MessageSid: 'SM1', MessageStatus: 'delivered' }],
    ['null', null],
    ['an array', []],
    ['entry not an array', { object: 'whatsapp_business_account', entry: {} }],
    ['a status without id', { object: 'x', entry: [{ changes: [{ value: { statuses: [{ status: 'sent', timestamp: '1' }] } }] }] }],
  ])('a non-Meta body (%s) throws', (_what, body) => {
    expect(() => parseMetaWebhook(body)).toThrow();
  });

  it('MetaWebhooks.parseWebhook throws on bytes that are not JSON', () => {
    expect(() => new MetaWebhooks(APP_SECRET).parseWebhook(signed('not json'))).toThrow();
  });
});
