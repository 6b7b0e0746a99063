import { type AcceptJob, createRedis, queueNames, type SendJob } from '@herald/shared';
import { createAcceptProcessor } from '@herald/worker';
import { type Queue, Worker } from 'bullmq';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getMessage, reminder, send, simFor } from './helpers.ts';
import { type Stack, startStack, uniquePhone, waitFor } from './stack.ts';

// The API answers once the accept job is in Redis; a worker writes the record to history and
// queues the send. These tests look at a message before its record is written (no worker yet),
// and at how soon a worker writes it.

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(() => stack?.close());

const later = (ms: number) => new Date(Date.now() + ms).toISOString();
const history = async (query: string) =>
  (
    await stack.api.inject({
      method: 'GET',
      url: `/api/notifications/history${query}`,
      headers: { authorization: `Bearer ${stack.token('viewer')}` },
    })
  ).json();

describe('a cancel or an erasure while a worker is writing the message', () => {
  it('waits until the worker has queued its send, then removes it: the message ends cancelled, nothing is queued', async () => {
    // The accept worker's own processor, held at the one moment that matters: the record is in
    // history, its send job not yet in Redis (a cancel or an erasure then found a queued message
    // with no job, and the send was queued after they had finished).
    let release = () => {};
    let holding = Promise.resolve();
    const hold = () => {
      let held = () => {};
      holding = new Promise<void>((r) => {
        held = r;
      });
      const gate = new Promise<void>((r) => {
        release = r;
      });
      return async () => {
        held();
        await gate;
      };
    };
    let paused = hold();
    const sendQueue = {
      addBulk: async (jobs: Parameters<Queue<SendJob>['addBulk']>[0]) => {
        await paused();
        return stack.queues.send.addBulk(jobs);
      },
    } as unknown as Queue<SendJob>;
    const connection = createRedis(stack.config);
    const writer = new Worker<AcceptJob>(
      queueNames.accept,
      createAcceptProcessor({ config: stack.config, store: stack.store, sendQueue, log: pino({ level: 'silent' }) }),
      { connection, prefix: stack.config.QUEUE_PREFIX, concurrency: 1 },
    );
    try {
      /** Accepts a message to `phone`, and acts on it while the worker holds it. */
      const whileHeld = async (phone: string, act: (id: string) => Promise<{ statusCode: number }>) => {
        const { id } = (await send(stack, reminder(phone, { immediate: false }))).body;
        await holding;
        expect(await stack.store.messages.get(id)).toMatchObject({ status: 'queued' });
        expect(await stack.queues.send.getJob(id)).toBeUndefined();
        const acting = act(id);
        await new Promise((r) => setTimeout(r, 300));
        release();
        expect((await acting).statusCode).toBe(200);
        // The worker lets go (an erasure then removes the accept job too: it holds the phone).
        await waitFor(async () => (await stack.queues.accept.getJobState(id)) !== 'active', { what: 'the worker to let go' });
        paused = hold();
        return id;
      };

      const cancelled = await whileHeld(uniquePhone(), (id) =>
        stack.api.inject({
          method: 'DELETE',
          url: `/api/notifications/messages/${id}`,
          headers: { authorization: `Bearer ${stack.token('service')}` },
        }),
      );
      expect(await stack.store.messages.get(cancelled)).toMatchObject({ status: 'cancelled' });
      expect(await stack.queues.send.getJob(cancelled)).toBeUndefined();

      const phone = uniquePhone();
      const erased = await whileHeld(phone, () =>
        stack.api.inject({
          method: 'DELETE',
          url: `/api/v1/admin/people/${encodeURIComponent(phone)}`,
          headers: { authorization: `Bearer ${stack.token('admin')}` },
        }),
      );
      expect(await stack.store.messages.get(erased)).toMatchObject({ status: 'cancelled', phone: 'erased' });
      expect(await stack.queues.send.getJob(erased)).toBeUndefined();
    } finally {
      await writer.close();
      await connection.quit();
    }
  });
});

describe('a message whose record is not written yet', () => {
  it('is found by GET, history and statistics, answers an idempotent replay, and can be cancelled', async () => {
    const phone = uniquePhone();
    const key = `thin-${phone}`;
    const first = await send(stack, reminder(phone, { immediate: false, idempotency_key: key, reference_id: `order-${phone}` }));
    expect(first.status).toBe(202);
    expect(await stack.store.messages.get(first.body.id)).toBeNull(); // no worker: not in history yet

    const got = await getMessage(stack, first.body.id);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id: first.body.id, status: 'queued', phone, reference_id: `order-${phone}` });
    expect(got.body.events).toMatchObject([{ status: 'queued', source: 'api' }]);

    const page = await history(`?phone=${encodeURIComponent(phone)}`);
    expect(page.total).toBe(1);
    expect(page.items[0]).toMatchObject({ id: first.body.id, status: 'queued' });

    const stats = await stack.api.inject({
      method: 'GET',
      url: '/api/notifications/statistics?days=1',
      headers: { authorization: `Bearer ${stack.token('viewer')}` },
    });
    expect(stats.json().by_status.queued).toBeGreaterThanOrEqual(1);

    const replay = await send(stack, reminder(phone, { immediate: false, idempotency_key: key, reference_id: `order-${phone}` }));
    expect(replay.status).toBe(200);
    expect(replay.body.id).toBe(first.body.id);

    const cancel = await stack.api.inject({
      method: 'DELETE',
      url: `/api/notifications/messages/${first.body.id}`,
      headers: { authorization: `Bearer ${stack.token('service')}` },
    });
    expect(cancel.statusCode).toBe(200);
    expect(cancel.json().status).toBe('cancelled');
    expect(await stack.queues.accept.getJob(first.body.id)).toBeUndefined();
    expect(await stack.store.messages.get(first.body.id)).toMatchObject({ status: 'cancelled' });

    // A worker starting now writes nothing over it and sends nothing.
    const other = await send(stack, reminder(uniquePhone(), { immediate: false }));
    await stack.startWorker();
    await waitFor(async () => (await stack.store.messages.get(other.body.id))?.status === 'sent', { what: 'the other message sent' });
    expect((await stack.store.messages.get(first.body.id))?.status).toBe('cancelled');
    expect((await simFor(stack, phone)).messages).toHaveLength(0);
  });

  it('a message scheduled days ahead is in history as scheduled within seconds, and counted', async () => {
    if (!stack.worker) await stack.startWorker();
    const phone = uniquePhone();
    const res = await send(stack, reminder(phone, { send_at: later(3 * 86_400_000) }));
    expect(res.body.status).toBe('scheduled');
    const started = Date.now();
    await waitFor(async () => (await stack.store.messages.get(res.body.id))?.status === 'scheduled', {
      timeoutMs: 5_000,
      intervalMs: 20,
      what: 'the scheduled message in history',
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    // Counted by the worker's store, right after its write.
    const day = new Date().toISOString().slice(0, 10);
    await waitFor(
      async () => (await stack.store.statistics.summarise({ from: day, to: day, tenant: 'default' })).by_status.scheduled >= 1,
      {
        timeoutMs: 5_000,
        what: 'the scheduled message counted',
      },
    );
    // Its send waits for its time.
    const job = await stack.queues.send.getJob(res.body.id);
    expect(await job?.getState()).toBe('delayed');
  });
});
