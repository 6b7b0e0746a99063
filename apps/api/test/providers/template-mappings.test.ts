import type { TemplateProviders } from '@herald/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getMessage, reminder, send } from '../helpers.ts';
import { type Stack, startStack, uniquePhone, waitFor } from '../stack.ts';

interface SimMessage {
  type: string;
  text: string | null;
  template: unknown;
}

const mappings: Record<'meta' | 'twilio' | 'myoperator', TemplateProviders> = {
  meta: { meta: { name: 'order_confirmation', language: 'en_US', params: ['order_id', 'total_amount'] } },
  twilio: { twilio: { content_sid: `HX${'0123456789abcdef'.repeat(2)}`, variables: { '1': 'order_id', '2': 'total_amount' } } },
  myoperator: { myoperator: { template_name: 'order_confirmation', language: 'en', params: ['order_id', 'total_amount'] } },
};

/** What each provider's simulator recorded for the mapped template. */
const expectedTemplate = {
  meta: {
    name: 'order_confirmation',
    language: { policy: 'deterministic', code: 'en_US' },
    components: [
      {
        type: 'body',
        parameters: [
          { type: 'text', text: 'ORD-7' },
          { type: 'text', text: '450' },
        ],
      },
    ],
  },
  twilio: { content_sid: `HX${'0123456789abcdef'.repeat(2)}`, variables: { '1': 'ORD-7', '2': '450' } },
  myoperator: { template_name: 'order_confirmation', language: 'en', body: { '1': 'ORD-7', '2': '450' } },
};

/** The provider's "outside the 24 h window" refusal (MyOperator names none: it has no case here). */
const outsideWindow = { meta: 131047, twilio: 63016 } as const;

describe.each(['meta', 'twilio', 'myoperator'] as const)('%s template mappings', (provider) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ provider, worker: false });
    // The mapping is in place before the worker loads its templates.
    const current = await stack.store.templates.get('order_confirmation');
    if (!current) throw new Error('default template order_confirmation missing');
    const { _id, ...rest } = current;
    await stack.store.templates.save({ ...rest, version: current.version + 1, providers: mappings[provider] }, current);
    await stack.startWorker();
    await stack.faults({ webhooks: { statuses: [] } });
  });
  afterAll(() => stack?.close());

  it('a template with a mapping goes as the provider template, its parameters from the context in order', async () => {
    const phone = uniquePhone();
    const res = await send(stack, {
      phone,
      message_type: 'order_confirmation',
      context: { order_id: 'ORD-7', delivery_date: '2026-02-01', total_amount: 450 },
    });
    expect(res.body.status).toBe('sent');
    const sim = (await (await fetch(`${stack.sim.url}/_sim/messages?to=${encodeURIComponent(phone)}`)).json()) as {
      messages: SimMessage[];
    };
    expect(sim.messages[0]?.type).toBe('template');
    expect(sim.messages[0]?.template).toEqual(expectedTemplate[provider]);
  });

  it('a template without a mapping goes as text', async () => {
    const phone = uniquePhone();
    expect((await send(stack, reminder(phone))).body.status).toBe('sent');
    const sim = (await (await fetch(`${stack.sim.url}/_sim/messages?to=${encodeURIComponent(phone)}`)).json()) as {
      messages: SimMessage[];
    };
    expect(sim.messages[0]?.type).toBe('text');
  });

  if (provider !== 'myoperator') {
    it('text outside the 24 h window fails permanently, explaining that a template is needed', async () => {
      const phone = uniquePhone();
      await stack.faults({ script: [{ to: phone, code: outsideWindow[provider] }], webhooks: { statuses: [] } });
      const res = await send(stack, reminder(phone));
      const d = await waitFor(
        async () => {
          const m = (await getMessage(stack, res.body.id)).body;
          return m.status === 'failed' ? m : undefined;
        },
        { what: 'failed' },
      );
      expect(d.attempts).toBe(1);
      expect(d.error.code).toBe(String(outsideWindow[provider]));
      expect(d.error.message).toMatch(/template/);
    });
  }
});
