import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getMessage, reminder, send } from './helpers.ts';
import { type Stack, startStack, uniquePhone, waitFor } from './stack.ts';

// A circuit breaker per sender (issue 14, item 2): it opens after a run of transient failures,
// sends nothing while open, lets one probe through after the cool-down, re-opens when the probe
// fails and closes when one succeeds. Its state is in the senders API and in health.

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { BREAKER_FAILURES: '3', BREAKER_WINDOW_MS: '30000', BREAKER_COOLDOWN_MS: '2500' } });
});
afterAll(() => stack?.close());

interface SimRequest {
  /** When the simulator answered it. */
  at: string;
  to: string | null;
  outcome: string;
}
const simRequests = async () => ((await (await fetch(`${stack.sim.url}/_sim/messages`)).json()) as { requests: SimRequest[] }).requests;

async function breaker(): Promise<{ state: string; failures: number; opened_at: string | null; last_error: string | null }> {
  const res = await stack.api.inject({
    method: 'GET',
    url: '/api/v1/admin/senders/env',
    headers: { authorization: `Bearer ${stack.token('admin')}` },
  });
  expect(res.statusCode).toBe(200);
  return res.json().breaker;
}

async function health(): Promise<{ breakers: { not_closed: string[] } }> {
  return (await stack.api.inject({ method: 'GET', url: '/api/notifications/health' })).json();
}

describe('a sender\u2019s circuit breaker', () => {
  it('opens after 3 failures in a row, sends nothing while open, re-opens on a failed probe, closes on a good one', async () => {
    // Three 500s open it; the first probe fails too (slowly, so half-open can be seen); the next succeeds.
    await stack.faults({
      script: [{ code: 131000 }, { code: 131000 }, { code: 131000 }, { code: 131000, latency_ms: 1200 }],
    });
    expect((await breaker()).state).toBe('closed');
    const first = [uniquePhone(), uniquePhone(), uniquePhone()];
    const ids: string[] = [];
    for (const phone of first) {
      const res = await send(stack, reminder(phone, { immediate: false }));
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    await waitFor(async () => (await breaker()).state === 'open', { timeoutMs: 10_000, what: 'the breaker to open' });
    const opened = await breaker();
    expect(opened).toMatchObject({ state: 'open', failures: 3, last_error: '131000' });
    expect((await health()).breakers.not_closed).toContain('env');

    // Accepted while open: it waits (no request, no attempt used) and says why on its timeline.
    const late = uniquePhone();
    const lateRes = await send(stack, reminder(late, { immediate: false }));
    expect(lateRes.status).toBe(202);
    ids.push(lateRes.body.id);

    // The failed probe holds the breaker half-open while it is in flight, then re-opens it.
    const seen = new Set<string>();
    await waitFor(
      async () => {
        seen.add((await breaker()).state);
        return seen.has('half_open') && (await breaker()).state === 'open';
      },
      { timeoutMs: 10_000, intervalMs: 100, what: 'a failed probe to re-open the breaker' },
    );
    const reopened = await breaker();
    expect(Date.parse(reopened.opened_at as string)).toBeGreaterThan(Date.parse(opened.opened_at as string));

    await waitFor(async () => (await stack.store.messages.count({ ids, status: ['sent', 'delivered', 'read'] })) === ids.length, {
      timeoutMs: 20_000,
      what: 'every message sent once the breaker closes',
    });
    expect((await breaker()).state).toBe('closed');
    expect((await health()).breakers.not_closed).not.toContain('env');

    // Nothing reached the provider while the breaker was open: no request answered between its
    // opening and the end of the cool-down (the probe after it is answered 1.2 s late).
    const requests = await simRequests();
    const openedAt = Date.parse(opened.opened_at as string);
    expect(requests.filter((r) => Date.parse(r.at) > openedAt + 50 && Date.parse(r.at) < openedAt + 2400)).toEqual([]);
    // Four failures (three, then the probe), then one accepted request per message.
    const mine = requests.filter((r) => [...first, late].some((p) => r.to?.replace(/\D/g, '') === p.replace(/\D/g, '')));
    expect(mine.filter((r) => r.outcome !== 'accepted')).toHaveLength(4);
    expect(mine.filter((r) => r.outcome === 'accepted')).toHaveLength(4);
    // The message accepted while open waited without using an attempt beyond its own.
    const lateDoc = (await getMessage(stack, lateRes.body.id)).body;
    expect(lateDoc.events.map((e: { status: string }) => e.status)).toContain('waiting');
    expect(lateDoc.attempts).toBeLessThanOrEqual(2);
    for (const id of ids) expect((await getMessage(stack, id)).body.attempts).toBeLessThanOrEqual(3);
  });
});
