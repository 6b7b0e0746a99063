import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(() => stack?.close());

const expected: [string, string][] = [
  ['post', '/api/notifications/send-message'],
  ['post', '/api/notifications/send-bulk'],
  ['get', '/api/notifications/messages/{id}'],
  ['delete', '/api/notifications/messages/{id}'],
  ['get', '/api/notifications/history'],
  ['get', '/api/notifications/history/{phone}'],
  ['post', '/api/notifications/resend/{id}'],
  ['get', '/api/notifications/statistics'],
  ['get', '/api/notifications/templates'],
  ['get', '/api/notifications/templates/{type}'],
  ['put', '/api/notifications/templates/{type}'],
  ['get', '/api/notifications/templates/{type}/versions'],
  ['post', '/api/notifications/templates/{type}/preview'],
  ['get', '/api/notifications/settings/{phone}'],
  ['put', '/api/notifications/settings/{phone}'],
  ['post', '/api/notifications/process-queue'],
  ['get', '/api/notifications/health'],
  ['get', '/api/v1/admin/senders'],
  ['post', '/api/v1/admin/senders'],
  ['get', '/api/v1/admin/senders/{id}'],
  ['patch', '/api/v1/admin/senders/{id}'],
  ['post', '/api/v1/admin/senders/{id}/disable'],
  ['post', '/api/v1/admin/senders/{id}/enable'],
  ['post', '/api/v1/admin/senders/reencrypt'],
];

describe('OpenAPI document', () => {
  it('covers every admin and upstream route, each with a summary, and request bodies with examples', async () => {
    const res = await stack.api.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json() as { paths: Record<string, Record<string, { summary?: string; requestBody?: unknown }>> };
    for (const [method, path] of expected) {
      const op = doc.paths[path]?.[method];
      expect(op, `${method.toUpperCase()} ${path}`).toBeDefined();
      expect(op?.summary, `${method.toUpperCase()} ${path} summary`).toBeTruthy();
      if (op?.requestBody) expect(JSON.stringify(op.requestBody), `${method.toUpperCase()} ${path} example`).toMatch(/"examples?"/);
    }
    expect((await stack.api.inject({ method: 'GET', url: '/docs' })).statusCode).toBeLessThan(400);
  });
});
