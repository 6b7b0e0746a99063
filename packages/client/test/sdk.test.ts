import { HeraldApiError, HeraldClient } from '@herald/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, uniquePhone, waitFor } from './stack.ts';

let stack: Stack;
let herald: HeraldClient;

beforeAll(async () => {
  stack = await startStack();
  herald = new HeraldClient({ baseUrl: stack.apiUrl, token: () => stack.token('service', 'sdk') });
});
afterAll(() => stack?.close());

describe('SDK against the real API', () => {
  it('sends with a business helper, renders the template with its variables, and reads it back', async () => {
    const phone = uniquePhone();
    const res = await herald.orderConfirmation(
      phone,
      { order_id: 'A-17', delivery_date: '2026-02-01', total_amount: 420 },
      { reference_id: 'order_A-17' },
    );
    expect([200, 202]).toContain(res.httpStatus);
    const sent = await waitFor(async () => {
      const m = await herald.getMessage(res.message.id);
      return m.sent_at ? m : undefined;
    });
    expect(sent.message_text).toBe('Order #A-17 confirmed. Delivery on 2026-02-01, total ₹420.');
    expect(sent.reference_id).toBe('order_A-17');
    const page = await herald.history({ reference_id: 'order_A-17' });
    expect(page.items.map((m) => m.id)).toEqual([res.message.id]);
  });

  it('every business helper is accepted by the default templates (nothing missing)', async () => {
    const phone = uniquePhone();
    const o = { immediate: false };
    const results = await Promise.all([
      herald.orderConfirmation(phone, { order_id: '1', delivery_date: 'd', total_amount: 1 }, o),
      herald.subscriptionConfirmation(phone, { product: 'Milk', start_date: 'd' }, o),
      herald.deliveryConfirmed(phone, { customer_name: 'A', delivery_date: 'd' }, o),
      herald.paymentConfirmation(phone, { amount: 1, period: 'Jan', payment_method: 'UPI' }, o),
      herald.deliveryReminder(phone, { customer_name: 'A', delivery_date: 'd' }, o),
      herald.paymentReminder(phone, { amount: 1, period: 'Jan' }, o),
      herald.pauseConfirmation(phone, { resume_date: 'd' }, o),
      herald.churnRisk(phone, { customer_name: 'A' }, o),
      herald.newProductAlert(phone, { product: 'Curd', availability_date: 'd' }, o),
    ]);
    expect(results.map((r) => r.message.message_type)).toEqual([
      'order_confirmation',
      'subscription_confirmation',
      'delivery_confirmed',
      'payment_confirmation',
      'delivery_reminder',
      'payment_reminder',
      'pause_confirmation',
      'churn_risk',
      'new_product',
    ]);
  });

  it('sendBulk returns per-item results; errors surface as HeraldApiError with the envelope', async () => {
    const results = await herald.sendBulk([
      { phone: uniquePhone(), message_type: 'churn_risk', context: { customer_name: 'A' } },
      { phone: 'nope', message_type: 'churn_risk', context: { customer_name: 'A' } },
    ]);
    expect(results[0]).toMatchObject({ index: 0, status: 'queued' });
    expect(results[1]).toMatchObject({ index: 1, error: 'bad_request' });

    const err = await herald.send({ phone: uniquePhone(), message_type: 'churn_risk', context: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HeraldApiError);
    expect(err).toMatchObject({ status: 400, code: 'bad_request' });
    expect((err as HeraldApiError).issues?.[0]?.path).toBe('context.customer_name');

    const scheduled = await herald.deliveryReminder(
      uniquePhone(),
      { customer_name: 'A', delivery_date: 'd' },
      { send_at: new Date(Date.now() + 3_600_000) },
    );
    expect(scheduled.message.status).toBe('scheduled');
    expect((await herald.cancel(scheduled.message.id)).status).toBe('cancelled');
  });
});
