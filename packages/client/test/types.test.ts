import type * as shared from '@herald/shared';
import { signCallback } from '@herald/shared';
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as client from '../src/index.ts';

// The client copies the API's shapes as plain types so it needs no zod and no @herald/shared at
// runtime. These checks run under `tsc` (the typecheck step) and fail when the server's schemas
// and the client's types drift apart.
describe('the client types match the server schemas', () => {
  it('message shapes, statuses, issues and callbacks', () => {
    expectTypeOf<client.MessageStatus>().toEqualTypeOf<shared.MessageStatus>();
    expectTypeOf<client.MessageView>().toEqualTypeOf<shared.MessageView>();
    expectTypeOf<client.MessageDetail>().toEqualTypeOf<shared.MessageDetail>();
    expectTypeOf<client.ErrorIssue>().toEqualTypeOf<shared.ErrorIssue>();
    expectTypeOf<client.CallbackPayload>().toEqualTypeOf<shared.CallbackPayload>();
    expectTypeOf<client.ContextValue>().toEqualTypeOf<shared.Context[string]>();
  });

  it('a send request the client builds is one the API accepts', () => {
    const request: client.SendRequest = {
      phone: '+919876543210',
      message_type: 'churn_risk',
      context: { customer_name: 'A' },
      reference_id: 'r',
      immediate: false,
      idempotency_key: 'k',
      callback_url: 'https://example.test/hook',
    };
    expectTypeOf<Omit<client.SendRequest, 'send_at' | 'expires_at'>>().toExtend<Partial<shared.SendMessageRequest>>();
    expect(request.phone).toBe('+919876543210');
  });
});

describe('verifyCallbackSignature', () => {
  const body = JSON.stringify({ id: 'msg_1', status: 'delivered', sequence: 2 });

  it('accepts the signature the worker puts on a callback, and nothing else', () => {
    const header = signCallback('s3cret', body);
    expect(client.verifyCallbackSignature('s3cret', body, header)).toBe(true);
    expect(client.verifyCallbackSignature('other', body, header)).toBe(false);
    expect(client.verifyCallbackSignature('s3cret', `${body} `, header)).toBe(false);
    expect(client.verifyCallbackSignature('s3cret', body, header.slice(0, -1))).toBe(false);
    expect(client.verifyCallbackSignature('s3cret', body, undefined)).toBe(false);
    expect(client.verifyCallbackSignature('s3cret', body, null)).toBe(false);
    expect(client.callbackSignatureHeader).toBe('x-herald-signature');
  });
});
