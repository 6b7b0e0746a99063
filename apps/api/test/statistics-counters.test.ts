import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getMessage, reminder, send } from './helpers.ts';
import { type Stack, startStack, uniquePhone, waitFor } from './stack.ts';

// Statistics read per-day counters that every write keeps with $inc (see DailyStats). Real
// traffic through the API, the worker, the simulator and its webhooks takes messages through
// every status change Herald makes; the counters must then say exactly what a recount of the
// messages says, and what the test knows it did.

let stack: Stack;
const tenant = 'counters';

beforeAll(async () => {
  stack = await startStack({ webhookDelaysMs: { sent: 50, delivered: 100, read: 150 } });
});
afterAll(() => stack?.close());

/** `platform`: an admin without a tenant claim (erasure needs one). */
async function call(
  method: 'GET' | 'PUT' | 'POST' | 'DELETE',
  url: string,
  payload?: object,
  role: 'admin' | 'service' | 'platform' = 'admin',
) {
  const res = await stack.api.inject({
    method,
    url,
    headers: { authorization: `Bearer ${role === 'platform' ? stack.token('admin') : stack.token(role, tenant)}` },
    ...(payload ? { payload } : {}),
  });
  return { status: res.statusCode, body: res.json() };
}
const statusOf = async (id: string) => (await getMessage(stack, id, { role: 'admin' })).body;
const until = async (id: string, statuses: string[]) => {
  let last = '';
  await waitFor(
    async () => {
      const m = await statusOf(id);
      last = `${m.status} after ${JSON.stringify(m.events)}`;
      return statuses.includes(m.status);
    },
    { timeoutMs: 30_000, what: `${id} to be ${statuses.join('|')}` },
  ).catch((err) => {
    throw new Error(`${(err as Error).message}; it is ${last}`);
  });
};
const statistics = async () => {
  const { status, body } = await call('GET', '/api/notifications/statistics?days=1');
  expect(status).toBe(200);
  const { queue: _queue, ...rest } = body;
  return rest;
};

describe('statistics counters', () => {
  it('follow every status change of real traffic, and equal a recount of the messages', async () => {
    const opts = { tenant };
    // Three read through the simulator's webhooks (one of them sent in a bulk).
    const read = [];
    for (let i = 0; i < 2; i++) read.push((await send(stack, reminder(uniquePhone(), { immediate: false }), opts)).body.id);
    const bulk = await call(
      'POST',
      '/api/notifications/send-bulk',
      { messages: [reminder(uniquePhone()), reminder(uniquePhone())] },
      'service',
    );
    expect(bulk.status).toBe(207);
    read.push(...bulk.body.results.map((r: { id: string }) => r.id));

    // A permanent failure, and another failure resent by an admin and then read.
    const failPhone = uniquePhone();
    const resendPhone = uniquePhone();
    await stack.faults({
      script: [
        { code: 131026, to: failPhone },
        { code: 131026, to: resendPhone },
      ],
    });
    const failed = (await send(stack, reminder(failPhone), opts)).body.id;
    const resent = (await send(stack, reminder(resendPhone), opts)).body.id;
    await until(failed, ['failed']);
    await until(resent, ['failed']);
    expect((await call('POST', `/api/notifications/resend/${resent}`)).status).toBe(202);

    // Cancelled by an admin, suppressed by an opt-out, expired while sending was paused, and
    // cancelled by the erasure of its recipient.
    const scheduled = (await send(stack, reminder(uniquePhone(), { send_at: new Date(Date.now() + 3_600_000).toISOString() }), opts)).body
      .id;
    expect((await call('DELETE', `/api/notifications/messages/${scheduled}`)).status).toBe(200);
    const optedOut = uniquePhone();
    expect((await call('PUT', `/api/notifications/settings/${encodeURIComponent(optedOut)}`, { opted_out: true })).status).toBe(200);
    expect((await send(stack, reminder(optedOut), opts)).body.status).toBe('suppressed');
    await stack.queues.send.pause();
    const expiring = (
      await send(stack, reminder(uniquePhone(), { immediate: false, expires_at: new Date(Date.now() + 500).toISOString() }), opts)
    ).body.id;
    const erasedPhone = uniquePhone();
    const erased = (await send(stack, reminder(erasedPhone, { immediate: false }), opts)).body.id;
    expect((await call('DELETE', `/api/v1/admin/people/${encodeURIComponent(erasedPhone)}`, undefined, 'platform')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 700));
    await stack.queues.send.resume();

    for (const id of [...read, resent]) await until(id, ['read']);
    await until(expiring, ['expired']);
    expect((await statusOf(erased)).status).toBe('cancelled');

    // The counters are written just after each message: give the last one a moment.
    const counted = await waitFor(
      async () => {
        const s = await statistics();
        return s.by_status.read === 5 && s.by_status.expired === 1 ? s : undefined;
      },
      { timeoutMs: 5_000, what: 'the counters to catch up' },
    ).catch(async () => statistics());
    expect(counted.total).toBe(10);
    expect(counted.by_status).toMatchObject({ read: 5, failed: 1, cancelled: 2, suppressed: 1, expired: 1, queued: 0, sent: 0 });
    expect(counted.rates).toEqual({ success: 5 / 7, delivery: 1, read: 1 });
    expect(counted.latency_ms.queued_to_sent.mean).not.toBeNull();
    expect(counted.latency_ms.sent_to_delivered.p95).not.toBeNull();

    // A recount from the messages (the repair path) finds the same, to the millisecond sums.
    await stack.store.statistics.rebuild();
    expect(await statistics()).toEqual(counted);
  });
});
