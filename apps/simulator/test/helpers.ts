import { createHmac, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { type RunningSimulator, type SimulatorOptions, startSimulator } from '../src/index.ts';

export const ACCESS_TOKEN = 'test-access-token';
export const APP_SECRET = 'test-app-secret';
export const PHONE_NUMBER_ID = '106540352242922';
export const WEBHOOK_PATH = '/api/v1/whatsapp/webhook';

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers; their assertions pin the shape.
export type Json = any;

export interface ReceivedWebhook {
  raw: string;
  json: Json;
  signature: string | undefined;
  contentType: string | undefined;
  /** Verified here, independently of the simulator's code. */
  signatureValid: boolean;
  receivedAt: number;
}

/** A stand-in for Herald: records every webhook; `answer` decides its HTTP status. */
export interface FakeHerald {
  url: string;
  received: ReceivedWebhook[];
  answer: (webhook: ReceivedWebhook, index: number) => number;
  close(): Promise<void>;
}

export function verifySignature(raw: string, header: string | undefined, secret = APP_SECRET): boolean {
  if (!header?.startsWith('sha256=')) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(raw, 'utf8').digest('hex'));
  const given = Buffer.from(header.slice('sha256='.length));
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export async function startFakeHerald(): Promise<FakeHerald> {
  const app: FastifyInstance = Fastify();
  // Keep the exact bytes: the signature is over them, not over re-serialised JSON.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  const herald: FakeHerald = {
    url: '',
    received: [],
    answer: () => 200,
    close: () => app.close(),
  };
  app.post(WEBHOOK_PATH, async (request, reply) => {
    const raw = request.body as string;
    const signature = request.headers['x-hub-signature-256'] as string | undefined;
    const webhook: ReceivedWebhook = {
      raw,
      json: JSON.parse(raw),
      signature,
      contentType: request.headers['content-type'],
      signatureValid: verifySignature(raw, signature),
      receivedAt: Date.now(),
    };
    herald.received.push(webhook);
    const status = herald.answer(webhook, herald.received.length - 1);
    return reply.code(status).send({ received: true });
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('fake Herald is not on TCP');
  herald.url = `http://127.0.0.1:${address.port}`;
  return herald;
}

export interface Harness {
  sim: RunningSimulator;
  herald: FakeHerald;
  /** `${sim.url}/v24.0/${PHONE_NUMBER_ID}/messages` */
  sendUrl: string;
  close(): Promise<void>;
}

export async function startHarness(options: SimulatorOptions = {}): Promise<Harness> {
  const herald = await startFakeHerald();
  const sim = await startSimulator({
    meta: { accessToken: ACCESS_TOKEN, appSecret: APP_SECRET, phoneNumberId: PHONE_NUMBER_ID },
    webhookBaseUrl: herald.url,
    webhookDelaysMs: { sent: 10, delivered: 20, read: 30 },
    webhookRetryBaseMs: 20,
    ...options,
  });
  return {
    sim,
    herald,
    sendUrl: `${sim.url}/v24.0/${PHONE_NUMBER_ID}/messages`,
    close: async () => {
      await sim.close();
      await herald.close();
    },
  };
}

/**
 * One harness for the whole test file, reset before each test (faults, records, the fake Herald's
 * captures and answers). The object is filled in by beforeAll, so tests use it as `h.sim`.
 */
export function useHarness(options: SimulatorOptions = {}): Harness {
  const h = {} as Harness;
  beforeAll(async () => {
    Object.assign(h, await startHarness(options));
  });
  afterAll(() => h.close?.());
  beforeEach(async () => {
    await control(h.sim, 'POST', '/_sim/reset');
    h.herald.received.length = 0;
    h.herald.answer = () => 200;
  });
  return h;
}

export function textMessage(to: string, body = 'Your order ORD-1 is confirmed') {
  return { messaging_product: 'whatsapp', recipient_type: 'individual', to, type: 'text', text: { preview_url: false, body } };
}

export async function send(url: string, body: unknown, token = ACCESS_TOKEN) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Json };
}

export async function control(sim: RunningSimulator, method: string, path: string, body?: unknown) {
  const response = await fetch(`${sim.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Json };
}

export async function setFaults(sim: RunningSimulator, faults: unknown): Promise<void> {
  const answer = await control(sim, 'PUT', '/_sim/faults', faults);
  if (answer.status !== 200) throw new Error(`PUT /_sim/faults answered ${answer.status}: ${JSON.stringify(answer.body)}`);
}

export async function waitFor(condition: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The nth webhook Herald received; fails the test when there is none. */
export function receivedAt(herald: FakeHerald, index: number): ReceivedWebhook {
  const webhook = herald.received[index];
  if (!webhook) throw new Error(`Herald received ${herald.received.length} webhooks, none at index ${index}`);
  return webhook;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The single status in a Meta status webhook. */
export function statusOf(webhook: ReceivedWebhook): Json {
  return webhook.json.entry[0].changes[0].value.statuses[0];
}
