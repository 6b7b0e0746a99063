import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  fetchMetaTemplates,
  MetaCloudApi,
  type OutgoingMessage,
  ProviderError,
  parseMetaWebhook,
  type SendResult,
  TwilioMessaging,
  type WhatsAppProvider,
} from '@herald/shared';
import { META_ERRORS, type RunningSimulator, startSimulator } from '@herald/simulator';
import { type PrismMock, prismViolations, readOpenApi, startPrism, waitFor } from '@herald/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errata, valueAt, writeCorrectedSpec } from './spec-errata.ts';

/**
 * Contract tests: the real adapters send, through their own `send()`, to Stoplight Prism
 * (`prism mock --errors`) serving Meta's and Twilio's own OpenAPI specs, which are kept unmodified
 * in contracts/provider-specs (SOURCES.md names the commits). Prism validates every request
 * (path, headers, auth, body) against the spec and answers 422 with the violations when one breaks
 * it; a failure below lists those violations. The simulator stays for behaviour (faults, webhooks);
 * these tests prove the shape.
 */
const specDir = new URL('../../../../contracts/provider-specs/', import.meta.url).pathname;
const metaSpecFile = `${specDir}business-messaging-api_v23.0.yaml`;
const twilioSpecFile = `${specDir}twilio_api_v2010.json`;
const metaSpec = readOpenApi(metaSpecFile);
const twilioSpec = readOpenApi(twilioSpecFile);
/** What Prism serves: the published spec with the corrections of spec-errata.ts (each one says why). */
const served = {
  meta: () => writeCorrectedSpec(metaSpec, 'meta', 'business-messaging-api_v23.0'),
  twilio: () => writeCorrectedSpec(twilioSpec, 'twilio', 'twilio_api_v2010'),
};

const META = { apiVersion: 'v23.0', phoneNumberId: '106540352242922', accessToken: 'EAAcontracttest0123456789' } as const;
const TWILIO = {
  accountSid: `AC${'0123456789abcdef'.repeat(2)}`,
  authToken: 'contract-test-auth-token',
  from: '+14155550100',
  publicBaseUrl: 'https://herald.example.com',
} as const;
const CONTENT_SID = `HX${'fedcba9876543210'.repeat(2)}`;

/** One shape of request Herald sends: add an entry for every new shape an adapter learns. */
interface SendCase {
  /** What is sent, in words a reader of the failure recognises. */
  name: string;
  provider: 'meta' | 'twilio';
  message: OutgoingMessage;
}

const to = '+919812345678';
const context = { customer_name: 'Asha', order_id: 'ORD-7', total_amount: 450, delivery_date: '2026-02-01' };

/** Values for the rich template shapes: media links, a file name, a coupon code. */
const mediaContext = {
  ...context,
  invoice_url: 'https://cdn.example.com/invoices/INV-7.pdf',
  invoice_name: 'INV-7.pdf',
  image_url: 'https://cdn.example.com/products/p1.jpg',
  coupon: 'SAVE25',
};

/** The message sent where only the answer matters (the success examples). */
const textMessage: OutgoingMessage = { id: 'msg_text', to, text: 'Your order ORD-7 is confirmed.' };

export const sendCases: SendCase[] = [
  { name: 'Meta text', provider: 'meta', message: textMessage },
  {
    name: 'Meta template, positional body parameters',
    provider: 'meta',
    message: {
      id: 'msg_meta_template',
      to,
      text: 'Your order ORD-7 is confirmed.',
      template: {
        type: 'order_confirmation',
        context,
        providers: { meta: { name: 'order_confirmation', language: 'en_US', params: ['order_id', 'total_amount'] } },
      },
    },
  },
  {
    name: 'Meta template without parameters',
    provider: 'meta',
    message: {
      id: 'msg_meta_template_plain',
      to,
      text: 'Welcome!',
      template: { type: 'welcome', context: {}, providers: { meta: { name: 'welcome', language: 'en', params: [] } } },
    },
  },
  {
    name: 'Meta template, document header by link with filename, positional body, quick reply and URL buttons',
    provider: 'meta',
    message: {
      id: 'msg_meta_invoice',
      to,
      text: 'Your invoice',
      template: {
        type: 'invoice_ready',
        context: mediaContext,
        providers: {
          meta: {
            name: 'invoice_ready',
            language: 'en_US',
            header: { type: 'document', link_from: 'invoice_url', filename_from: 'invoice_name' },
            body: ['customer_name', 'order_id'],
            buttons: [
              { type: 'quick_reply', index: 1, payload: 'not_mine' },
              { type: 'url', index: 2, suffix_from: 'order_id' },
            ],
          },
        },
      },
    },
  },
  {
    name: 'Meta template, named body parameters and a named text header',
    provider: 'meta',
    message: {
      id: 'msg_meta_named',
      to,
      text: 'Hi Asha',
      template: {
        type: 'named_greeting',
        context: mediaContext,
        providers: {
          meta: {
            name: 'named_greeting',
            language: 'en',
            header: { type: 'text', text_from: 'order_id', parameter_name: 'order' },
            body: [{ parameter_name: 'first_name', from: 'customer_name' }],
          },
        },
      },
    },
  },
  {
    name: 'Meta template, image header by link',
    provider: 'meta',
    message: {
      id: 'msg_meta_image',
      to,
      text: 'New arrivals',
      template: {
        type: 'new_product',
        context: mediaContext,
        providers: { meta: { name: 'new_product', language: 'en', header: { type: 'image', link_from: 'image_url' } } },
      },
    },
  },
  {
    name: 'Meta template, video header by media id',
    provider: 'meta',
    message: {
      id: 'msg_meta_video',
      to,
      text: 'How it works',
      template: {
        type: 'how_it_works',
        context: mediaContext,
        providers: { meta: { name: 'how_it_works', language: 'en', header: { type: 'video', id: '1003383421387256' } } },
      },
    },
  },
  {
    name: 'Meta template, quick reply buttons with payloads',
    provider: 'meta',
    message: {
      id: 'msg_meta_quick_reply',
      to,
      text: 'Did it arrive?',
      template: {
        type: 'delivery_check',
        context: mediaContext,
        providers: {
          meta: {
            name: 'delivery_check',
            language: 'en',
            body: ['order_id'],
            buttons: [
              { type: 'quick_reply', index: 1, payload: 'confirm_yes' },
              { type: 'quick_reply', index: 2, payload: 'confirm_no' },
            ],
          },
        },
      },
    },
  },
  {
    // Valid against the corrected spec only: v23.0's pattern for `index` refuses 0 (spec-errata.ts).
    name: 'Meta template, the first button (index 0)',
    provider: 'meta',
    message: {
      id: 'msg_meta_first_button',
      to,
      text: 'Track your order',
      template: {
        type: 'track',
        context: mediaContext,
        providers: { meta: { name: 'track', language: 'en', buttons: [{ type: 'url', index: 0, suffix_from: 'order_id' }] } },
      },
    },
  },
  {
    // Valid against the corrected spec only: v23.0's sub_types lack copy_code (spec-errata.ts).
    name: 'Meta template, copy code button',
    provider: 'meta',
    message: {
      id: 'msg_meta_copy_code',
      to,
      text: 'Use SAVE25',
      template: {
        type: 'coupon',
        context: mediaContext,
        providers: { meta: { name: 'coupon', language: 'en', buttons: [{ type: 'copy_code', index: 1, coupon_code_from: 'coupon' }] } },
      },
    },
  },
  {
    name: 'Meta document message (text as caption, filename)',
    provider: 'meta',
    message: { ...textMessage, id: 'msg_meta_document', media: { type: 'document', url: mediaContext.invoice_url, filename: 'INV-7.pdf' } },
  },
  {
    name: 'Meta image message (text as caption)',
    provider: 'meta',
    message: { ...textMessage, id: 'msg_meta_image_text', media: { type: 'image', url: mediaContext.image_url } },
  },
  { name: 'Twilio body', provider: 'twilio', message: textMessage },
  {
    // Prism reads one MediaUrl as a string where the spec's form style makes it a one-item array (spec-errata.ts).
    name: 'Twilio body with MediaUrl',
    provider: 'twilio',
    message: { ...textMessage, id: 'msg_twilio_media', media: { type: 'document', url: mediaContext.invoice_url } },
  },
  {
    name: 'Twilio ContentSid + ContentVariables with a media variable',
    provider: 'twilio',
    message: {
      id: 'msg_twilio_content_media',
      to,
      text: 'Your invoice',
      template: {
        type: 'invoice_ready',
        context: mediaContext,
        providers: {
          twilio: {
            content_sid: CONTENT_SID,
            variables: { '1': 'customer_name' },
            media: { variable: '2', url_from: 'invoice_url', url_prefix: 'https://cdn.example.com/' },
          },
        },
      },
    },
  },
  {
    name: 'Twilio ContentSid + ContentVariables',
    provider: 'twilio',
    message: {
      id: 'msg_twilio_content',
      to,
      text: 'Your order ORD-7 is confirmed.',
      template: {
        type: 'order_confirmation',
        context,
        providers: { twilio: { content_sid: CONTENT_SID, variables: { '1': 'order_id', '2': 'total_amount' } } },
      },
    },
  },
];

/** The sha256 column of SOURCES.md's table, by file name. */
function publishedDigests(): Map<string, string> {
  const digests = new Map<string, string>();
  for (const line of readFileSync(`${specDir}SOURCES.md`, 'utf8').split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const file = cells[1];
    const sha = cells.at(-2);
    if (file && sha && /^[0-9a-f]{64}$/.test(sha)) digests.set(file, sha);
  }
  return digests;
}

describe('provider specs', () => {
  it.each(errata.map((e) => [`${e.spec} ${e.path.join('.')}`, e] as const))(
    'erratum %s still corrects the published spec (remove it once the provider fixes it)',
    (_name, erratum) => {
      expect(valueAt(erratum.spec === 'meta' ? metaSpec : twilioSpec, erratum.path)).toEqual(erratum.was);
    },
  );

  it('are the published files, byte for byte (sha256 as in SOURCES.md)', () => {
    const digests = publishedDigests();
    const files = readdirSync(specDir).filter((f) => f !== 'SOURCES.md');
    expect(files.sort()).toEqual([...digests.keys()].sort());
    for (const file of files) {
      expect(
        createHash('sha256')
          .update(readFileSync(`${specDir}${file}`))
          .digest('hex'),
        file,
      ).toBe(digests.get(file));
    }
  });
});

/**
 * Sends through the adapter and returns its result; a refusal fails the test with Prism's
 * violation list (the adapter's ProviderError keeps only "HTTP 422").
 */
async function sendValid(prism: PrismMock, adapter: WhatsAppProvider, c: { name: string; message: OutgoingMessage }): Promise<SendResult> {
  prism.last = undefined;
  const result = await adapter.send(c.message).catch((err: unknown) => err);
  if (!(result instanceof Error)) return result as SendResult;
  const last = prism.last as { status: number; body: string } | undefined;
  // Nothing reached Prism: the adapter failed building the request, and its own error says how.
  if (!last) throw result;
  const violations = last.status === 422 ? prismViolations(JSON.parse(last.body)) : [`HTTP ${last.status}: ${last.body}`];
  expect(violations, `${c.name}: the request breaks the provider's spec (${result.message})`).toEqual([]);
  throw result;
}

/** The named examples of one response of one operation. */
function responseExamples(spec: Record<string, unknown>, path: string, status: string, method = 'post'): [string, unknown][] {
  // biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document walked by known keys; a missing key throws below
  const op = (spec as any).paths?.[path]?.[method];
  const examples = op?.responses?.[status]?.content?.['application/json']?.examples as Record<string, { value: unknown }> | undefined;
  if (!examples) throw new Error(`no ${status} examples for ${method.toUpperCase()} ${path}`);
  return Object.entries(examples).map(([name, e]) => [name, e.value]);
}

/** The named request examples of Meta's webhook path. */
function metaWebhookExamples(): [string, unknown][] {
  // biome-ignore lint/suspicious/noExplicitAny: as above
  const op = (metaSpec as any).paths?.['/whatsapp/webhooks']?.post;
  const examples = op?.requestBody?.content?.['application/json']?.examples as Record<string, { value: unknown }> | undefined;
  if (!examples) throw new Error('no request examples for POST /whatsapp/webhooks');
  return Object.entries(examples).map(([name, e]) => [name, e.value]);
}

/** A loopback server keeping the raw body of every POST (stands in for Herald's webhook route). */
async function startSink(): Promise<{ url: string; bodies: Buffer[]; close(): Promise<void> }> {
  const bodies: Buffer[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The key paths of a JSON value (`messages.0.text.body`), to compare shapes rather than values. */
function keyPaths(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object') return [prefix];
  return Object.entries(value).flatMap(([k, v]) => keyPaths(v, prefix ? `${prefix}.${k}` : k));
}

describe("Meta Cloud API against Meta's OpenAPI spec (sendMessage, message_templates, webhooks)", () => {
  let prism: PrismMock;
  let meta: MetaCloudApi;
  beforeAll(async () => {
    prism = await startPrism(served.meta());
    meta = new MetaCloudApi({ baseUrl: prism.url, ...META });
  });
  afterAll(() => prism?.stop());

  it.each(sendCases.filter((c) => c.provider === 'meta'))('$name validates', async (c) => {
    const result = await sendValid(prism, meta, c);
    expect(result.provider_message_id).toMatch(/^wamid\./);
  });

  // Over HTTP: Prism answers with the example named in `Prefer: example=<name>`.
  const examples = responseExamples(metaSpec, '/{Version}/{Phone-Number-ID}/messages', '200');
  const withId = examples.filter(([, v]) => Array.isArray((v as { messages?: unknown }).messages));
  const withoutId = examples.filter(([, v]) => !Array.isArray((v as { messages?: unknown }).messages));

  it('every 200 example is seen (the spec has examples with and without a message id)', () => {
    expect(withId.length).toBeGreaterThan(30);
    expect(withoutId.map(([name]) => name)).toEqual(['Send typing indicator and read receipt']);
  });

  it.each(withId)('200 example "%s" parses to its message id', async (name, value) => {
    prism.prefer = `example=${name}`;
    try {
      const result = await sendValid(prism, meta, {
        name: `text answered by "${name}"`,
        message: textMessage,
      });
      expect(result.provider_message_id).toBe((value as { messages: { id: string }[] }).messages[0]?.id);
    } finally {
      prism.prefer = undefined;
    }
  });

  // `{success: true}` answers a read receipt, which Herald never sends: if it ever answered a send,
  // Herald must not invent an id but retry.
  it.each(withoutId)('200 example "%s" (no message id) is refused as a bad answer', async (name) => {
    prism.prefer = `example=${name}`;
    try {
      const err = await meta.send(textMessage).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProviderError);
      expect(err).toMatchObject({ code: 'bad_response', retryable: true });
    } finally {
      prism.prefer = undefined;
    }
  });

  // Template sync reads the account's templates (GET /{Version}/{WABA-ID}/message_templates): the
  // request must validate and each 200 example must come out as the templates it lists.
  it.each(responseExamples(metaSpec, '/{Version}/{WABA-ID}/message_templates', '200', 'get'))(
    'template list example "%s" parses to its templates',
    async (name, value) => {
      prism.prefer = `example=${name}`;
      prism.last = undefined;
      try {
        const listed = await fetchMetaTemplates({
          baseUrl: prism.url,
          apiVersion: META.apiVersion,
          wabaId: '102290129340398',
          accessToken: META.accessToken,
        }).catch((err: unknown) => {
          const last = prism.last as { status: number; body: string } | undefined;
          const violations = last?.status === 422 ? prismViolations(JSON.parse(last.body)) : [];
          expect(violations, `the template list request breaks Meta's spec (${(err as Error).message})`).toEqual([]);
          throw err;
        });
        const data = (value as { data: { name: string; language: string; status: string }[] }).data;
        expect(data.length).toBeGreaterThan(0);
        expect(listed.templates.map((t) => [t.name, t.language, t.status])).toEqual(
          data.map((t) => [t.name, t.language, t.status.toUpperCase()]),
        );
      } finally {
        prism.prefer = undefined;
      }
    },
  );

  describe('webhook examples (POST /whatsapp/webhooks)', () => {
    const webhooks = metaWebhookExamples();
    type Change = { value?: { statuses?: { id: string; status: string }[]; messages?: { id: string; type: string }[] } };
    const changes = (v: unknown) =>
      ((v as { entry?: { changes?: Change[] }[] }).entry ?? []).flatMap((e) => e.changes ?? []).map((c) => c.value ?? {});
    const carries = (v: unknown) => changes(v).some((c) => c.statuses || c.messages);
    const carrying = webhooks.filter(([, v]) => carries(v));
    const others = webhooks.filter(([, v]) => !carries(v));

    it('most examples carry messages (v23.0 has no example with statuses)', () => {
      expect(carrying.length).toBeGreaterThan(10);
    });

    it.each(carrying)('"%s" parses with parseMetaWebhook; statuses and text messages keep their ids', (_name, value) => {
      const parsed = parseMetaWebhook(value);
      const values = changes(value);
      const tracked = new Set(['sent', 'delivered', 'read', 'failed']);
      const statusIds = values
        .flatMap((c) => c.statuses ?? [])
        .filter((s) => tracked.has(s.status))
        .map((s) => s.id);
      expect(parsed.statuses.map((s) => s.provider_message_id)).toEqual(statusIds);
      const messageIds = values.flatMap((c) => c.messages ?? []).map((m) => m.id);
      const textIds = values
        .flatMap((c) => c.messages ?? [])
        .filter((m) => m.type === 'text')
        .map((m) => m.id);
      const inboundIds = parsed.inbound.map((m) => m.provider_message_id);
      expect(inboundIds).toEqual(expect.arrayContaining(textIds));
      for (const id of inboundIds) expect(messageIds).toContain(id);
    });

    // A tap on a template's quick-reply button or on an interactive reply button / list row answers
    // the message named in `context.id`: it must come out as a reply to that message, with the payload.
    const tapped = carrying.filter(([, v]) =>
      changes(v).some((c) => c.messages?.some((m) => m.type === 'button' || m.type === 'interactive')),
    );
    it.each(tapped)('"%s" parses to a reply to its context.id, with its payload', (_name, value) => {
      type Tap = { id: string; context?: { id: string }; button?: { payload: string }; interactive?: Record<string, { id?: string }> };
      const taps = changes(value).flatMap((c) => (c.messages ?? []) as Tap[]);
      const expected = taps.map((m) => ({
        provider_message_id: m.id,
        reply_to: m.context?.id,
        reply: { payload: m.button?.payload ?? m.interactive?.button_reply?.id ?? m.interactive?.list_reply?.id },
      }));
      expect(parseMetaWebhook(value).inbound).toMatchObject(expected);
    });

    // Group lifecycle and the like: nothing for Herald, but not a malformed body either (a
    // refusal would have Meta retry it for days).
    it.each(others)('"%s" (no statuses, no messages) parses to nothing', (_name, value) => {
      expect(parseMetaWebhook(value)).toMatchObject({ statuses: [], inbound: [] });
    });
  });

  describe("the simulator's webhooks", () => {
    // Meta's v23.0 spec has no example with statuses, so the status webhooks every end-to-end test
    // relies on (the simulator's) are checked against its WebhookPayload schema instead: Prism
    // validates a POST to /whatsapp/webhooks like any request. The spec puts bearer auth on that path
    // (Meta signs webhooks instead), so the re-post carries a bearer token only to pass Prism's
    // security check. Inbound messages cannot be checked that way: in v23.0 the schema reads each
    // incoming message as an outgoing one (`to`, `recipient_type` required), so even Meta's own
    // examples fail it; the simulator's inbound text is compared with Meta's "Text Message" example.
    let sim: RunningSimulator;
    let sink: Awaited<ReturnType<typeof startSink>>;
    beforeAll(async () => {
      sink = await startSink();
      sim = await startSimulator({
        webhookBaseUrl: sink.url,
        webhookDelaysMs: { sent: 0, delivered: 5, read: 10 },
        meta: { accessToken: META.accessToken, phoneNumberId: META.phoneNumberId },
      });
    });
    afterAll(async () => {
      await Promise.all([sim?.close(), sink?.close()]);
    });

    it('status webhooks (sent, delivered, read, failed) validate and parse to their message ids', async () => {
      const meta = new MetaCloudApi({ baseUrl: sim.url, ...META });
      const read = await meta.send({ id: 'msg_sim_read', to: '+919812345678', text: 'Your order is confirmed.' });
      await waitFor(async () => sink.bodies.length >= 3, { what: 'sent, delivered and read webhooks' });
      const failCode = META_ERRORS.has(131026) ? 131026 : [...META_ERRORS.keys()][0];
      const faults = await fetch(`${sim.url}/_sim/faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ webhooks: { fail: { code: failCode } } }),
      });
      expect(faults.status).toBe(200);
      const failed = await meta.send({ id: 'msg_sim_failed', to: '+919812345670', text: 'Your order is confirmed.' });
      await waitFor(async () => sink.bodies.length >= 5, { what: 'sent and failed webhooks' });

      const statuses: string[] = [];
      for (const raw of sink.bodies) {
        const res = await fetch(`${prism.url}/whatsapp/webhooks`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer contract-test' },
          body: raw,
        });
        const violations = res.status === 200 ? [] : prismViolations(await res.json());
        expect(violations, `the simulator's webhook breaks Meta's spec: ${raw.toString()}`).toEqual([]);
        const parsed = parseMetaWebhook(JSON.parse(raw.toString('utf8')));
        statuses.push(...parsed.statuses.map((st) => `${st.provider_message_id} ${st.status}${st.error ? ` ${st.error.code}` : ''}`));
      }
      expect(statuses.sort()).toEqual(
        [
          `${read.provider_message_id} sent`,
          `${read.provider_message_id} delivered`,
          `${read.provider_message_id} read`,
          `${failed.provider_message_id} sent`,
          `${failed.provider_message_id} failed ${failCode}`,
        ].sort(),
      );
    });

    it('an inbound text has the shape of Meta\'s "Text Message" example', async () => {
      const example = metaWebhookExamples().find(([name]) => name === 'Text Message')?.[1];
      expect(example).toBeDefined();
      const res = await fetch(`${sim.url}/_sim/inbound`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ provider: 'meta', from: '+919812345679', text: 'STOP' }),
      });
      expect(res.status).toBe(200);
      const posted = ((await res.json()) as { posted: unknown }).posted;
      expect(keyPaths(posted).sort()).toEqual(keyPaths(example).sort());
      expect(parseMetaWebhook(posted).inbound).toMatchObject([{ from: '+919812345679', text: 'STOP' }]);
    });
  });
});

describe("Twilio Messaging against Twilio's OpenAPI spec (POST /2010-04-01/Accounts/{AccountSid}/Messages.json)", () => {
  let prism: PrismMock;
  let twilio: TwilioMessaging;
  beforeAll(async () => {
    prism = await startPrism(served.twilio());
    twilio = new TwilioMessaging({ baseUrl: prism.url, ...TWILIO });
  });
  afterAll(() => prism?.stop());

  it.each(sendCases.filter((c) => c.provider === 'twilio'))('$name validates', async (c) => {
    const result = await sendValid(prism, twilio, c);
    expect(result.provider_message_id).toMatch(/^SM/);
  });

  const examples = responseExamples(twilioSpec, '/2010-04-01/Accounts/{AccountSid}/Messages.json', '201');

  it('the 201 examples are seen', () => {
    expect(examples.length).toBeGreaterThan(0);
  });

  it.each(examples)('201 example "%s" parses to its sid', async (name, value) => {
    prism.prefer = `example=${name}`;
    try {
      const result = await sendValid(prism, twilio, { name: `body answered by "${name}"`, message: textMessage });
      expect(result.provider_message_id).toBe((value as { sid: string }).sid);
    } finally {
      prism.prefer = undefined;
    }
  });
});
