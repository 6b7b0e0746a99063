import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { optOutApplied, reminder, send, simFor } from './helpers.ts';
import { type Stack, startStack, uniquePhone } from './stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

async function inbound(from: string, text: string) {
  const res = await fetch(`${stack.sim.url}/_sim/inbound`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ from, text }),
  });
  const body = (await res.json()) as { herald: { status: number } };
  expect(body.herald.status).toBe(200);
}
const optedOut = async (phone: string) => (await stack.store.settings.get(phone))?.opted_out;

describe('opt-out by inbound message', () => {
  it('" Stop " from the recipient suppresses later sends without calling the provider; START resumes', async () => {
    const phone = uniquePhone();
    await optOutApplied(stack, phone, true, () => inbound(phone, ' Stop '));

    const suppressed = await send(stack, reminder(phone));
    expect(suppressed.status).toBe(200);
    expect(suppressed.body.status).toBe('suppressed');
    await new Promise((r) => setTimeout(r, 300));
    expect((await simFor(stack, phone)).requests).toHaveLength(0);

    await optOutApplied(stack, phone, false, () => inbound(phone, 'START'));
    const sent = await send(stack, reminder(phone));
    expect(sent.body.status).toBe('sent');
  });

  it('other inbound text changes nothing', async () => {
    const phone = uniquePhone();
    await inbound(phone, 'please stop by tomorrow');
    await new Promise((r) => setTimeout(r, 500));
    expect(await optedOut(phone)).toBeUndefined();
  });
});
