import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, waitFor } from '../stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ provider: 'myoperator', worker: false });
});
afterAll(() => stack?.close());

describe('MyOperator events Herald cannot map', () => {
  it('are answered 200 and kept raw, once, for inspection', async () => {
    const eventId = randomUUID();
    const body = JSON.stringify({ event_id: eventId, event_type: 'whatsapp.template.status_update', payload: { template: 'x' } });
    const post = async () => {
      const res = await fetch(`${stack.sim.url}/_sim/webhook`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ provider: 'myoperator', body, signature: 'valid' }),
      });
      return ((await res.json()) as { herald: { status: number } }).herald.status;
    };
    expect(await post()).toBe(200);
    expect(await post()).toBe(200);
    const kept = await waitFor(() =>
      stack.store.orphans.list().then((all) => {
        const mine = all.filter((o) => o.provider === 'myoperator');
        return mine.length ? mine : undefined;
      }),
    );
    expect(kept).toHaveLength(1);
    expect((kept[0]?.event as { event_id?: string } | undefined)?.event_id).toBe(eventId);
  });
});
